"""The actions with rasa-sdk's own dispatcher and tracker, over the real notes index."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionAnswerFromNotes, ValidateSlotMappings
from llm_fallback.answer.safety import Verdict
from llm_fallback.text.replies import say


def tracker_for(text: str) -> Tracker:
    return Tracker(
        sender_id="unit",
        slots={"lang": None},
        latest_message={"text": text, "intent": {"name": "ask_notes", "confidence": 0.9}, "entities": []},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run_answer(text: str) -> list[str]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionAnswerFromNotes().run(dispatcher, tracker_for(text), {}))
    assert events == []
    return [m["text"] for m in dispatcher.messages]


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("LoRA 的 rank 怎么设", "zh"),
        ("What is top_p?", "en"),
        ("8bit 量化会损失性能吗", "zh"),
        ("/restart", None),
    ],
)
def test_language_slot_follows_the_message(text: str, lang: str | None) -> None:
    extracted = asyncio.run(
        ValidateSlotMappings().extract_lang(CollectingDispatcher(), tracker_for(text), {})
    )
    assert extracted == ({"lang": lang} if lang else {})


@pytest.mark.parametrize(("text", "kept"), [("QLoRA", True), ("7B", True), ("top_p", True), ("hello", False)])
def test_a_bare_term_keeps_the_conversations_language(text: str, kept: bool) -> None:
    tracker = tracker_for(text)
    tracker.slots["lang"] = "zh"
    extracted = asyncio.run(ValidateSlotMappings().extract_lang(CollectingDispatcher(), tracker, {}))
    assert extracted == ({} if kept else {"lang": "en"})


def test_question_outside_the_notes_says_so() -> None:
    [reply] = run_answer("What's the weather like in Paris tomorrow?")
    assert reply.startswith("The notes don't cover this"), reply


def test_credential_request_is_refused() -> None:
    [reply] = run_answer("What is the root password of the GPU server in the notes?")
    assert reply == Verdict("credential").reply("en")


def test_missing_index_gives_a_graceful_reply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOWLEDGE_DB_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert run_answer("QLoRA 是什么？") == [say("knowledge_unavailable", "zh")]
