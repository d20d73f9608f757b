"""The conversation set, a fixed subset through the real servers: each conversation is sent turn by
turn in one REST conversation, and its last turn is checked (bench/conversations.py scores the whole
set the same way, and beside the same questions asked standalone).

The subset is the first conversations of each kind in tests/conversations/tune.yml (never the
held-out file). What is decided before the model is asserted conversation by conversation: a skill's
follow-up re-runs the skill with the changed slot and asks nothing; a topic change or a fresh start
inherits nothing; a pronoun after two subjects gets a question back. What the 1.5B model decides is
asserted on the notes follow-ups as a whole, with a floor from the run that introduced it.
"""

from __future__ import annotations

import uuid

import pytest

from bench.conversations import CONVERSATIONS, inherited, last_turn_correct, resolved_how
from bench.e2e import Turn, first_of_each_kind, load, route_taken
from tests.servers import RasaServer

pytestmark = pytest.mark.servers

PER_KIND = {"followup_skill": 5, "topic_change": 3, "restart": 2, "ambiguous": 2, "followup_notes": 8,
            "after_not_covered": 2}
EXACT_KINDS = {"followup_skill", "restart", "ambiguous"}
# The share of notes follow-ups answered right (3/8 in the run that set it; the same questions asked
# standalone fare no better: the 1.5B model's answers are the limit), a little below for a loaded CPU.
MIN_NOTES_FOLLOWUPS = 0.25


SUBSET = first_of_each_kind(load([CONVERSATIONS / "tune.yml"]), PER_KIND)


@pytest.fixture(scope="module")
def last_turns(rasa: RasaServer) -> dict[str, tuple[Turn, str | None]]:
    """Every conversation of the subset, each in its own REST conversation: its last turn."""
    done = {}
    for item in SUBSET:
        sender = f"conv-{uuid.uuid4().hex[:10]}"
        for text in item["turns"]:
            texts = tuple(m["text"] for m in rasa.send(sender, text, timeout_s=90) if m.get("text"))
        events = rasa.tracker(sender)["events"]
        done[item["id"]] = (Turn(texts, route_taken(events), 0.0), resolved_how(events))
    return done


EXACT = [i for i in SUBSET if i["kind"] in EXACT_KINDS]


@pytest.mark.parametrize("item", EXACT, ids=[i["id"] for i in EXACT])
def test_skill_follow_ups_fresh_starts_and_questions_back(item: dict, last_turns: dict) -> None:
    turn, how = last_turns[item["id"]]
    assert last_turn_correct(item, turn), (item["turns"], turn.route, how, turn.reply)


CHANGES = [i for i in SUBSET if i["kind"] in ("topic_change", "restart")]


@pytest.mark.parametrize("item", CHANGES, ids=[i["id"] for i in CHANGES])
def test_a_change_of_topic_inherits_nothing(item: dict, last_turns: dict) -> None:
    turn, how = last_turns[item["id"]]
    assert not inherited(item, turn, how), (item["turns"], turn.route, how, turn.reply)


def test_a_skill_follow_up_asks_nothing(last_turns: dict) -> None:
    asked = [(i["id"], last_turns[i["id"]][0].route) for i in SUBSET if i["kind"] == "followup_skill"
             and last_turns[i["id"]][0].route.startswith("form:")]
    assert not asked


def test_notes_follow_ups_are_read_in_context(last_turns: dict) -> None:
    notes = [i for i in SUBSET if i["kind"] == "followup_notes"]
    read_alone = [(i["id"], i["turns"][-1]) for i in notes
                  if last_turns[i["id"]][1] not in ("rewritten", "model")]
    assert not read_alone
    wrong = [(i["id"], i["turns"][-1], last_turns[i["id"]][1], last_turns[i["id"]][0].reply[:160])
             for i in notes if not last_turn_correct(i, last_turns[i["id"]][0])]
    assert 1 - len(wrong) / len(notes) >= MIN_NOTES_FOLLOWUPS, wrong


def test_a_value_asked_after_a_notes_answer_is_the_notes_value_not_the_explanation(rasa: RasaServer) -> None:
    """"学习率设的是多少？" right after an answer about the notes' training example asks what that
    example used: the parameter's explanation cannot say."""
    sender = f"conv-{uuid.uuid4().hex[:10]}"
    rasa.send(sender, "FastChat 训练 Vicuna-7B 的示例用了什么硬件？", timeout_s=90)
    rasa.send(sender, "学习率设的是多少？", timeout_s=90)
    events = rasa.tracker(sender)["events"]
    assert route_taken(events) != "skill:params"
    assert resolved_how(events) in ("rewritten", "model")
