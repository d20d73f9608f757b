"""End to end: REST webhook -> real Rasa server (trained model) -> real action server -> notes."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import yaml

from llm_fallback.text.lang import detect_lang
from llm_fallback.text.replies import say
from tests.servers import ROOT, RasaServer

pytestmark = pytest.mark.servers
NOTE_FILES = {p.name for p in (ROOT / "notes").glob("*.md")}


def response_text(name: str, lang: str) -> str:
    """The domain's text of a response in one language (conditional variations carry `en`)."""
    variations = yaml.safe_load(Path(ROOT / "domain.yml").read_text())["responses"][name]
    for variation in variations:
        conditions = variation.get("condition", [])
        if (lang == "en") == any(c.get("value") == "en" for c in conditions):
            return variation["text"]
    raise KeyError(name)


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize(
    ("message", "lang"),
    [("你好", "zh"), ("hello there", "en"), ("早上好呀", "zh"), ("hey, good morning", "en")],
)
def test_greeting_answered_in_the_users_language(rasa: RasaServer, message: str, lang: str) -> None:
    assert rasa.texts(new_sender(), message) == [response_text("utter_greet", lang)]


@pytest.mark.parametrize(
    ("message", "lang"),
    [("明天上海天气怎么样", "zh"), ("book me a table for two tonight", "en"),
     # Close to the notes' subjects, about one they never name (knowledge/vocabulary.py).
     ("HumanEval 和 MBPP 评测代码模型有什么区别？", "zh"),
     ("How does ColBERT late interaction differ from a bi-encoder?", "en"),
     # NLU's parameter intent, but about a subject, not the optim parameter (rasa_addons/substance.py).
     ("What is the Muon optimizer?", "en")],
)
def test_out_of_scope_gets_an_honest_reply(rasa: RasaServer, message: str, lang: str) -> None:
    # The notes' relevance gate decides, whatever NLU thought: one honest "not covered" wording.
    [reply] = rasa.texts(new_sender(), message)
    assert reply.startswith(say("not_covered", lang)), reply


@pytest.mark.parametrize(
    "question",
    [
        "QLoRA 用什么量化方法压缩预训练模型？",
        "余弦相似度适合什么场景？",
        "How does hybrid search merge its results?",
    ],
)
def test_notes_question_answered_with_sources(rasa: RasaServer, question: str) -> None:
    texts = rasa.texts(new_sender(), question)
    assert texts, "the bot stayed silent"
    reply = "\n".join(texts)
    assert any(name in reply for name in NOTE_FILES), reply
    # The source list quotes Chinese headings whatever the question's language; the body must follow it.
    body = re.split(r"\n(?:Sources:|来源：)", reply)[0]
    assert detect_lang(body) == detect_lang(question), reply


def test_restart_clears_the_conversation(rasa: RasaServer) -> None:
    sender = new_sender()
    rasa.texts(sender, "hello")
    rasa.send(sender, "/restart")
    tracker = rasa.tracker(sender)
    events = [e["event"] for e in tracker["events"]]
    assert "restart" in events
    assert events.count("session_started") == 2  # the first message and the restart both start one
    assert tracker["slots"]["lang"] is None
