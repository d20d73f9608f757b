"""Which answer the assistant gives: a confident FAQ match at once (no LLM), else the notes answer.

Sits above both the FAQ and the answer pipeline, so neither imports the other's caller."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace

from llm_fallback.answer.pipeline import Answer, answer_question
from llm_fallback.conversation.followup import Previous, topics_of
from llm_fallback.conversation.resolve import Resolution, resolve
from llm_fallback.faq.match import faq_answer
from llm_fallback.knowledge.retrieve import Hit, get_retriever
from llm_fallback.llm.service import get_llm
from llm_fallback.text.lang import detect_lang
from llm_fallback.text.redact import redact
from llm_fallback.text.replies import say
from llm_fallback.text.tokenize import glossary_terms

log = logging.getLogger(__name__)


def faq_or_notes(question: str, sections: Sequence[str] = (), search_as: str = "") -> Answer:
    """What the assistant answers: a confident FAQ match at once (no LLM), else the notes answer,
    looked for in `sections` first (with `search_as` in place of the question, when given).

    A broken FAQ store must not take the notes answer down with it: log and fall through."""
    try:
        found = faq_answer(question)
    except Exception:
        log.exception("faq lookup failed; answering from the notes")
        found = None
    return found or answer_question(question, sections=sections, search_as=search_as)


def answer_in_context(message: str, previous: Previous | None) -> tuple[Answer, Resolution]:
    """The answer to a message in a conversation: a follow-up is first resolved against the previous
    turn (conversation.resolve); a pronoun that may mean two subjects gets a question back (route
    "clarify", the candidates in the resolution) instead of a guess."""
    resolution = resolve(message, previous, get_retriever(), get_llm())
    lang = detect_lang(message)
    if resolution.how == "clarify":
        text = say("clarify", lang, topics=" / ".join(resolution.candidates))
        return Answer(text, "clarify", (), 0, None, 0, question=redact(message).text), resolution
    answer = faq_or_notes(resolution.question, resolution.sections, resolution.search_as)
    question = redact(resolution.question).text
    if resolution.rewritten:
        # Say how the follow-up was read: a wrong reading is then plain to see and easy to restate.
        answer = replace(answer, text=f"{say('understood_as', lang, question=question)}\n{answer.text}")
    return replace(answer, question=question), resolution


def remember(question: str, sources: Sequence[Hit] = (), candidates: Sequence[str] = ()) -> Previous:
    """What the next turn may lean on: the question answered, its subjects, the sections cited.
    A question that names no subject leans on the section its answer came from. After a question
    back, the subjects are the ones offered."""
    if candidates:
        return Previous(question, tuple(candidates), clarifying=True)
    topics = topics_of(question, glossary_terms())
    sections = tuple(dict.fromkeys(h.heading for h in sources if h.heading))
    if not topics and sections:
        topics = (sections[0].rsplit(" > ", 1)[-1],)
    return Previous(question, topics, sections)


def ask_command(question: str, as_json: bool = False, after: str | None = None) -> str:
    """What `python -m llm_fallback ask` prints: the reply text, or the JSON record. Like the bot, a
    confident FAQ match answers first; `after` is the question asked just before (a follow-up).

    A one-shot process is the model's only user, so LLMBusy cannot happen here."""
    previous = None
    if after:
        first, _ = answer_in_context(after, None)
        previous = remember(first.question, first.sources)
    result, _ = answer_in_context(question, previous)
    return json.dumps(result.to_json(), ensure_ascii=False, indent=2) if as_json else result.text
