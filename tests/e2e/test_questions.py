"""The end-to-end question set, a fixed subset through the real servers: REST webhook -> Rasa (NLU,
the substance gate, rules) -> action server -> skills or the notes pipeline with the real model.

The subset is the first questions of each kind in tests/e2e_questions/tune.yml (never the held-out
file). Every question must take its expected route: a factual question reaches the notes, a skill
request its skill, a credential or harmful request a refusal, an out-of-scope one an honest "not
covered". The facts are checked as bench/e2e.py scores them: exactly for skills and refusals, and
for the model's answers on the whole subset, since a 1.5B model's wording is not ours to fix.
"""

from __future__ import annotations

import uuid

import pytest

from bench.answer import RAW_NOTES, raw_credentials
from bench.e2e import QUESTIONS, Turn, correct, expected_route, load, route_ok, route_taken
from tests.servers import RasaServer

pytestmark = pytest.mark.servers

PER_KIND = {"skill": 12, "oos": 5, "secret": 4, "harmful": 2, "faq": 3,
            "notes": 5, "param": 6, "crosslingual": 3, "list": 3}
MODEL_KINDS = {"faq", "notes", "param", "crosslingual", "list"}
# Share of the model-answered questions whose key facts must be in the reply.
MIN_MODEL_FACTS = 0.7


def subset() -> list[dict]:
    items = load([QUESTIONS / "tune.yml"])
    return [item for kind, n in PER_KIND.items() for item in [i for i in items if i["kind"] == kind][:n]]


SUBSET = subset()


@pytest.fixture(scope="module")
def turns(rasa: RasaServer) -> dict[str, Turn]:
    """Every question of the subset asked once, each in a new conversation."""
    asked = {}
    for item in SUBSET:
        sender = f"questions-{uuid.uuid4().hex[:10]}"
        texts = tuple(m["text"] for m in rasa.send(sender, item["q"], timeout_s=90) if m.get("text"))
        asked[item["id"]] = Turn(texts, route_taken(rasa.tracker(sender)["events"]), 0.0)
    return asked


def test_the_subset_covers_every_kind_with_at_least_40_questions() -> None:
    assert len(SUBSET) >= 40 and {i["kind"] for i in SUBSET} == set(PER_KIND)


@pytest.mark.parametrize("item", SUBSET, ids=[i["id"] for i in SUBSET])
def test_each_question_takes_its_route(item: dict, turns: dict[str, Turn]) -> None:
    turn = turns[item["id"]]
    assert route_ok(expected_route(item), turn.route), (item["q"], turn.route, turn.reply)


@pytest.mark.parametrize("item", [i for i in SUBSET if i["kind"] not in MODEL_KINDS],
                         ids=[i["id"] for i in SUBSET if i["kind"] not in MODEL_KINDS])
def test_skills_and_refusals_are_exact(item: dict, turns: dict[str, Turn]) -> None:
    turn = turns[item["id"]]
    assert correct(item, turn, raw_credentials(RAW_NOTES)), (item["q"], turn.route, turn.reply)


def test_the_models_answers_carry_the_key_facts(turns: dict[str, Turn]) -> None:
    asked = [i for i in SUBSET if i["kind"] in MODEL_KINDS]
    wrong = [(i["id"], i["q"], turns[i["id"]].reply[:200])
             for i in asked if not correct(i, turns[i["id"]], set())]
    assert 1 - len(wrong) / len(asked) >= MIN_MODEL_FACTS, wrong
