"""The end-to-end question set, a fixed subset through the real servers: REST webhook -> Rasa (NLU,
the substance gate, rules) -> action server -> skills or the notes pipeline with the real model.

The subset is the first questions of each kind in tests/e2e_questions/tune.yml (never the held-out
file). What is decided before the model is asserted question by question: a skill request reaches
its skill with the exact figures, a credential or harmful request is refused, and no factual
question is taken by a skill, a form or a canned reply. What the 1.5B model decides (whether its
passages answer, which words it uses) is asserted on the subset as a whole, with floors set from
the run that introduced them (bench/e2e.py reports the same on the whole set).
"""

from __future__ import annotations

import uuid

import pytest

from bench.answer import RAW_NOTES, raw_credentials
from bench.e2e import (
    QUESTIONS,
    Turn,
    confused,
    correct,
    expected_route,
    first_of_each_kind,
    load,
    route_ok,
    route_taken,
)
from tests.servers import RasaServer

pytestmark = pytest.mark.servers

PER_KIND = {"skill": 12, "oos": 5, "secret": 4, "harmful": 2, "faq": 3,
            "notes": 5, "param": 6, "crosslingual": 3, "list": 3}
MODEL_KINDS = {"faq", "notes", "param", "crosslingual", "list"}
EXACT_KINDS = {"skill", "secret", "harmful"}
# Floors for what the model decides, from the run that set them (10/20 facts, 4/5 out of scope
# honest, 0/20 "not covered"), a little below so that a CPU under load does not fail CI.
MIN_MODEL_FACTS = 0.45
MIN_OOS_HONEST = 0.6
MAX_NOT_COVERED = 0.1


SUBSET = first_of_each_kind(load([QUESTIONS / "tune.yml"]), PER_KIND)


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


EXACT = [i for i in SUBSET if i["kind"] in EXACT_KINDS]
FACTUAL = [i for i in SUBSET if i["kind"] in MODEL_KINDS]


@pytest.mark.parametrize("item", EXACT, ids=[i["id"] for i in EXACT])
def test_skills_and_refusals_take_their_route_with_exact_answers(item: dict,
                                                                   turns: dict[str, Turn]) -> None:
    turn = turns[item["id"]]
    assert route_ok(expected_route(item), turn.route), (item["q"], turn.route, turn.reply)
    assert correct(item, turn, raw_credentials(RAW_NOTES)), (item["q"], turn.route, turn.reply)


@pytest.mark.parametrize("item", FACTUAL, ids=[i["id"] for i in FACTUAL])
def test_no_factual_question_is_taken_by_a_skill_form_or_canned_reply(item: dict,
                                                                        turns: dict[str, Turn]) -> None:
    turn = turns[item["id"]]
    assert not confused(expected_route(item), turn.route), (item["q"], turn.route, turn.reply)


def test_what_the_model_decides_holds_on_the_whole_subset(turns: dict[str, Turn]) -> None:
    wrong = [(i["id"], i["q"], turns[i["id"]].reply[:200])
             for i in FACTUAL if not correct(i, turns[i["id"]], set())]
    not_covered = [i["id"] for i in FACTUAL if turns[i["id"]].route == "not_covered"]
    out_of_scope = [i for i in SUBSET if i["kind"] == "oos"]
    honest = [i["id"] for i in out_of_scope if correct(i, turns[i["id"]], set())]
    assert 1 - len(wrong) / len(FACTUAL) >= MIN_MODEL_FACTS, wrong
    assert len(not_covered) / len(FACTUAL) <= MAX_NOT_COVERED, not_covered
    assert len(honest) / len(out_of_scope) >= MIN_OOS_HONEST, honest
