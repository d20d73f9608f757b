"""Which answer the assistant gives: a confident FAQ match at once (no LLM), else the notes answer.

Sits above both the FAQ and the answer pipeline, so neither imports the other's caller."""

from __future__ import annotations

import json
import logging

from llm_fallback.answer.pipeline import Answer, answer_question
from llm_fallback.faq.match import faq_answer

log = logging.getLogger(__name__)


def faq_or_notes(question: str) -> Answer:
    """What the assistant answers: a confident FAQ match at once (no LLM), else the notes answer.

    A broken FAQ store must not take the notes answer down with it: log and fall through."""
    try:
        found = faq_answer(question)
    except Exception:
        log.exception("faq lookup failed; answering from the notes")
        found = None
    return found or answer_question(question)


def ask_command(question: str, as_json: bool = False) -> str:
    """What `python -m llm_fallback ask` prints: the reply text, or the JSON record. Like the bot, a
    confident FAQ match answers first.

    A one-shot process is the model's only user, so LLMBusy cannot happen here."""
    result = faq_or_notes(question)
    return json.dumps(result.to_json(), ensure_ascii=False, indent=2) if as_json else result.text
