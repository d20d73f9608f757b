"""rasa_addons.launch in Rasa's own environment: action server replies are judged exactly as stock
Rasa judges them (accepted, or rejected with the same error message), by the validator built once.
The servers of the e2e tests run through the launcher, so every custom action there goes through it."""

from __future__ import annotations

import pytest

from tests.servers import run_in_rasa_env

SCRIPT = r"""
import json
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from rasa_addons import launch

REPLIES = {
    "skill answer": {"events": [{"event": "slot", "name": "lang", "value": "zh", "timestamp": None}],
                     "responses": [{"text": "约 14 GB", "buttons": []}]},
    "nothing": {},
    "form events": {"events": [{"event": "active_loop", "name": "vram_form"},
                               {"event": "slot", "name": "requested_slot", "value": None}],
                    "responses": []},
    "unknown event": {"events": [{"event": "no_such_event"}], "responses": []},
    "events not a list": {"events": {"event": "slot"}, "responses": []},
    "response not an object": {"events": [], "responses": ["plain text"]},
    "slot without a name": {"events": [{"event": "slot", "value": 1}], "responses": []},
}


def judge(validate):
    verdicts = {}
    for name, reply in REPLIES.items():
        try:
            verdicts[name] = {"ok": validate(RemoteAction("action_x", None), reply)}
        except ValidationError as error:
            verdicts[name] = {"ok": False, "message": error.message}
    return verdicts


stock = judge(RemoteAction._validate_action_result)
launch.check_action_results_with_one_validator()
launch.check_action_results_with_one_validator()  # twice: still the one replacement
print(json.dumps({
    "stock": stock,
    "launched": judge(RemoteAction._validate_action_result),
    "replaced": RemoteAction._validate_action_result is launch.validate_action_result,
}))
"""


@pytest.fixture(scope="module")
def outcome() -> dict:
    return run_in_rasa_env(SCRIPT)


def test_the_launcher_replaces_rasas_check(outcome: dict) -> None:
    assert outcome["replaced"]


def test_every_reply_is_judged_as_stock_rasa_judges_it(outcome: dict) -> None:
    assert outcome["launched"] == outcome["stock"]


def test_good_replies_pass_and_bad_ones_say_why(outcome: dict) -> None:
    verdicts = outcome["launched"]
    assert [name for name, v in verdicts.items() if v["ok"]] == ["skill answer", "nothing", "form events"]
    for name in ("unknown event", "events not a list", "response not an object", "slot without a name"):
        assert "Failed to validate Action server response" in verdicts[name]["message"], name
