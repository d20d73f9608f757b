"""The answer pipeline: safety, retrieval, a grounded generation, checks, an extractive fallback, sources.

    answer_question(question) -> Answer   # raises LLMBusy when the model's queue is full

Every route ends in the same place: a reply text with its sources, redacted as the last step, so
the CLI, `rasa shell` and the webhook show exactly the same words.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from llm_fallback.config import load_settings
from llm_fallback.lang import Lang, detect_lang, is_in_lang
from llm_fallback.llm import LLM, GenerationResult, LLMBusy, LLMError, get_llm
from llm_fallback.prompt import (
    EXTRACT_BUDGET,
    Passage,
    best_sentences,
    build_messages,
    select_passages,
    terms,
)
from llm_fallback.redact import redact
from llm_fallback.retrieve import Hit, get_retriever
from llm_fallback.safety import check_request, filter_output

log = logging.getLogger(__name__)

Route = Literal["answer", "extractive", "not_covered", "refused", "faq"]

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_LIST_MARK = re.compile(r"(?m)^\s*\d+[.、)]\s+")  # "1. " enumerates, it claims nothing
_CITATION = re.compile(r"\s*\[\d+(?:\s*[,，]\s*\d+)*\]")

_TEXTS: dict[str, dict[Lang, str]] = {
    "sources": {"zh": "来源：", "en": "Sources:"},
    "extract": {"zh": "笔记原文摘录：", "en": "From the notes (quoted as written):"},
    "not_covered": {
        "zh": "笔记里没有讲到这个问题，我不凭空回答。",
        "en": "The notes don't cover this, so I won't guess.",
    },
    "closest": {"zh": "笔记里相近的主题有：{0}。", "en": "Closest topics they do cover: {0}."},
    "busy": {
        "zh": "现在提问的人比较多，请稍后再试。",
        "en": "I'm busy answering other questions, please retry in a moment.",
    },
}
_TOPIC_SEP = {"zh": "、", "en": "; "}


class Retriever(Protocol):
    def search(self, question: str, k: int = 5) -> list[Hit]: ...


@dataclass(frozen=True)
class Answer:
    text: str  # the whole reply as users see it, sources included, already redacted
    route: Route
    sources: tuple[Hit, ...]  # the passages the reply draws on, one per section
    latency_ms: int
    ttft_ms: int | None
    tokens: int

    def to_json(self) -> dict:
        return {
            "answer": self.text,
            "sources": [{"file": h.file, "heading": h.heading, "lines": h.lines} for h in self.sources],
            "route": self.route,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "tokens": self.tokens,
        }


def busy_reply(question: str) -> str:
    """What to tell the user when `answer_question` raised LLMBusy."""
    return _TEXTS["busy"][detect_lang(question)]


def _normalise_numbers(text: str) -> list[str]:
    return _NUMBER.findall(_THOUSANDS.sub("", text))


def unsupported_numbers(answer: str, evidence: str) -> list[str]:
    """Numbers in the answer that appear nowhere in the evidence (passages plus the question)."""
    allowed = set(_normalise_numbers(evidence))
    return [n for n in _normalise_numbers(_LIST_MARK.sub("", answer)) if n not in allowed]


def _clean(text: str) -> str:
    return _CITATION.sub("", text).strip()


def failed_checks(text: str, passages: Sequence[Passage], question: str, lang: Lang) -> list[str]:
    """Why a generated answer must not be shown; empty when it passes."""
    if not text:
        return ["empty"]
    failures = []
    evidence = "\n".join(p.text for p in passages) + "\n" + question
    if unsupported_numbers(text, evidence):
        failures.append("number")
    if not is_in_lang(text, lang):
        failures.append("language")
    return failures


def _used_passages(text: str, passages: Sequence[Passage]) -> list[Passage]:
    """Passages the answer draws on (two shared terms or more); the best one when none clearly is."""
    answer_terms = terms(text)
    used = [p for p in passages if len(terms(p.text) & answer_terms) >= 2]
    return used or list(passages[:1])


def compose_reply(body: str, sources: Sequence[Hit], lang: Lang) -> str:
    """The reply as users see it: the body, then its sources (file › section, lines); redacted."""
    if not sources:
        return filter_output(body)
    listed = "\n".join(f"- {h.sources_label()}" for h in sources)
    return filter_output(f"{body}\n\n{_TEXTS['sources'][lang]}\n{listed}")


def _not_covered(hits: Sequence[Hit], lang: Lang) -> str:
    topics = list(dict.fromkeys(h.heading.rsplit(" > ", 1)[-1] for h in hits if h.heading))[:3]
    body = _TEXTS["not_covered"][lang]
    if topics:
        body += " " + _TEXTS["closest"][lang].format(_TOPIC_SEP[lang].join(topics))
    return body


def _extract(passage: Passage, question: str, lang: Lang) -> str:
    quote = best_sentences(passage.hit.text, terms(question), EXTRACT_BUDGET)
    return f"{_TEXTS['extract'][lang]}{quote}" if lang == "zh" else f"{_TEXTS['extract'][lang]} {quote}"


def answer_question(question: str, retriever: Retriever | None = None, llm: LLM | None = None,
                    k: int = 5) -> Answer:
    """Answer from the notes. Raises LLMBusy (reply with `busy_reply`) and IndexNotBuiltError."""
    start = time.monotonic()
    lang = detect_lang(question)

    def done(body: str, route: Route, sources: Sequence[Hit] = (),
             generation: GenerationResult | None = None) -> Answer:
        latency_ms = round((time.monotonic() - start) * 1000)
        ttft_ms = round(generation.ttft_s * 1000) if generation and generation.ttft_s is not None else None
        log.info("answer route=%s lang=%s latency_ms=%d sources=%d", route, lang, latency_ms, len(sources))
        return Answer(compose_reply(body, sources, lang), route, tuple(sources), latency_ms, ttft_ms,
                      generation.tokens if generation else 0)

    verdict = check_request(question)
    if verdict is not None:
        log.info("refused: %s", verdict.reason)
        return done(verdict.reply(lang), "refused")

    # A secret the user pasted must not reach the index query, the prompt or a log line.
    question = redact(question).text
    hits = (retriever or get_retriever()).search(question, k=k)
    passages = select_passages([h for h in hits if h.relevant], question)
    if not passages:
        return done(_not_covered(hits, lang), "not_covered")

    settings = load_settings()
    generation = None
    failures: list[str]
    try:
        generation = (llm or get_llm()).generate(build_messages(question, passages, lang),
                                                 max_tokens=settings.llm_max_tokens, temperature=0.0)
        text = _clean(generation.text)
        failures = ["timeout"] if generation.timed_out else failed_checks(text, passages, question, lang)
    except LLMBusy:
        raise
    except LLMError as exc:
        log.warning("LLM unavailable, answering extractively: %s", exc)
        failures = ["llm_error"]
    if failures:
        log.info("extractive fallback: %s", ",".join(failures))
        best = passages[0]
        return done(_extract(best, question, lang), "extractive", [best.hit], generation)
    return done(text, "answer", [p.hit for p in _used_passages(text, passages)], generation)


def ask_command(question: str, as_json: bool = False) -> str:
    """What `python -m llm_fallback ask` prints: the reply text, or the JSON record. Like the bot, a
    confident FAQ match answers first.

    A one-shot process is the model's only user, so LLMBusy cannot happen here."""
    from llm_fallback.faq_match import faq_or_notes  # faq_match builds on this module

    result = faq_or_notes(question)
    return json.dumps(result.to_json(), ensure_ascii=False, indent=2) if as_json else result.text
