"""A follow-up resolved into a standalone question: the cheap rewrite first, the model only when the
index is unsure of the cheap one, and a question back when a pronoun may mean two subjects.

    resolve(message, previous, searcher, llm) -> Resolution

A message that stands on its own is never rewritten, so a change of topic starts fresh: one that
names its subject (`followup.shape_of` is "none"), and a short question asking for a definition
that the index answers confidently by itself ("什么是知识蒸馏？").
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from llm_fallback.answer.pipeline import says_not_in_notes
from llm_fallback.answer.prompt import SYSTEM
from llm_fallback.conversation.followup import Previous, defined_subject, following, for_candidate, rewrite
from llm_fallback.knowledge.retrieve import CLEAR_MATCH, Hit
from llm_fallback.llm.errors import LLMError
from llm_fallback.llm.service import LLM
from llm_fallback.text.lang import detect_lang
from llm_fallback.text.terms import technical_terms

log = logging.getLogger(__name__)

How = Literal["standalone", "rewritten", "model", "clarify"]

REWRITE_TOKENS = 48
# The model's rewrite is worth this much waiting at most; past it the cheap rewrite stands.
REWRITE_BUDGET_S = 3.0

# Asked under the answers' own system message: llama.cpp re-evaluates only what differs from the
# previous prompt, so the rewrite and the answer after it share that prefix instead of each
# re-evaluating its own (~1 s of prompt evaluation saved per rewritten turn on 2 cores).
_REWRITE_TASK = (
    "You rewrite a follow-up question from a chat into one standalone question. Use the previous "
    "question only to fill in what the follow-up leaves out (its subject). Keep the follow-up's "
    "language (Chinese stays Chinese, English stays English). Output only the rewritten question."
)


_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*[A-Za-z0-9]|[A-Za-z]")


class Searcher(Protocol):
    def search(self, question: str, k: int = 5) -> list[Hit]: ...


@dataclass(frozen=True)
class Resolution:
    question: str  # what to answer: the message itself, or the standalone question it stands for
    how: How
    candidates: tuple[str, ...] = ()  # for "clarify": the subjects the message may be about
    rewrite_ms: int = 0  # time spent in the model's rewrite (0 when it did not run)
    # Where the answer is looked for first: the sections the previous answer cited, when the
    # follow-up asks more about the same subject ("它的缺点呢？", "第一步具体做什么？").
    sections: tuple[str, ...] = ()
    # What to search the notes with when it is not `question`: the follow-up after the question it
    # follows (followup.following).
    search_as: str = ""

    @property
    def rewritten(self) -> bool:
        return self.how in ("rewritten", "model")


def _continues(hits: Sequence[Hit], sections: Sequence[str]) -> bool:
    """Whether the rewrite clearly finds its answer where the previous answer came from."""
    return any(h.heading in sections and h.relevance >= CLEAR_MATCH for h in hits)


def _best_relevance(searcher: Searcher, question: str) -> float:
    return max((h.relevance for h in searcher.search(question, k=3)), default=0.0)


def _clean_model_question(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    for prefix in ("Standalone question:", "Rewritten question:", "问题：", "Question:"):
        if line.startswith(prefix):
            line = line[len(prefix):]
    return line.strip().strip('"“”')


def users_spelling(question: str, said: Sequence[str]) -> str:
    """`question` with each Latin word the user wrote spelt as the user wrote it. The model
    capitalises names ("jhq's homework" → "JHQ's homework"), and a capitalised word is a term the
    notes must name (knowledge.vocabulary), so its spelling alone could turn an answer into "not covered"."""
    # A sentence's first word is capitalised, whoever writes it: "In jhq's …" spells no "In".
    spelt = {m.group().lower(): m.group() for text in said for m in _LATIN_WORD.finditer(text) if m.start()}

    def respelt(match: re.Match[str]) -> str:
        word = match.group()
        users = spelt.get(word.lower(), word)
        return word if match.start() == 0 and word == users.capitalize() else users

    return _LATIN_WORD.sub(respelt, question)


def model_rewrite(message: str, previous: Previous, llm: LLM,
                  budget_s: float = REWRITE_BUDGET_S) -> str | None:
    """The model's standalone question, or None when it failed, ran out of time or said nothing."""
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user",
         "content": f"{_REWRITE_TASK}\n\nPrevious question: {previous.question}\nFollow-up: {message}"},
    ]
    try:
        result = llm.generate(messages, max_tokens=REWRITE_TOKENS, temperature=0.0, stop=["\n"],
                              timeout_s=budget_s)
    except LLMError as exc:
        log.warning("follow-up rewrite by the model failed: %s", type(exc).__name__)
        return None
    question = users_spelling(_clean_model_question(result.text), (previous.question, message))
    # The system message's "NOT IN NOTES" is for answers; said here, it is no question.
    if (result.timed_out or not question or says_not_in_notes(question)
            or detect_lang(question) != detect_lang(message)):
        return None
    return question


def resolve(message: str, previous: Previous | None, searcher: Searcher, llm: LLM | None = None,
            budget_s: float = REWRITE_BUDGET_S) -> Resolution:
    """What `message` asks, read in the light of the previous turn (None: a first question)."""
    cheap = rewrite(message, previous)
    if previous is not None and previous.clarifying and cheap.shape == "substitution":
        return Resolution(cheap.question, "rewritten")
    if previous is None or cheap.shape == "none":
        return Resolution(message, "standalone")
    if cheap.candidates:
        return Resolution(message, "clarify", cheap.candidates)
    # A short question that asks to define something ("什么是知识蒸馏？") stands alone when the notes
    # answer it as it is; any other ("学习率设的是多少？", "第一步具体做什么？") continues the subject.
    if (cheap.shape == "ellipsis" and defined_subject(message)
            and not _continues(searcher.search(cheap.question, k=3), previous.sections)
            and _best_relevance(searcher, message) >= CLEAR_MATCH):
        return Resolution(message, "standalone")
    # The same subject is looked for first where it was found ("它的缺点呢？"); a message that names
    # a subject of its own ("那 QLoRA 呢？", "How does FastGPT use it?") is looked for anywhere.
    same_subject = cheap.shape != "substitution" and not technical_terms(message)
    sections = previous.sections if same_subject else ()
    # "第一步具体做什么？" is looked for with the question it follows, which finds what that question
    # found; the model is asked the rewrite alone, or it may answer the earlier question instead.
    search_as = ""
    if cheap.shape == "ellipsis" and same_subject and detect_lang(message) == detect_lang(previous.question):
        search_as = following(message, previous)
    cheap_hits = searcher.search(search_as or cheap.question, k=3)
    cheap_relevance = max((h.relevance for h in cheap_hits), default=0.0)
    # Found again where the previous answer was found: the model's rewrite can only lose context.
    found_again = bool(sections) and any(h.relevant and h.heading in sections for h in cheap_hits[:1])
    if cheap_relevance >= CLEAR_MATCH or found_again or llm is None:
        return Resolution(cheap.question, "rewritten", sections=sections, search_as=search_as)
    start = time.monotonic()
    by_model = model_rewrite(message, previous, llm, budget_s)
    spent_ms = round((time.monotonic() - start) * 1000)
    if by_model and _best_relevance(searcher, by_model) > cheap_relevance:
        log.info("follow-up rewritten by the model rewrite_ms=%d", spent_ms)
        return Resolution(by_model, "model", rewrite_ms=spent_ms, sections=sections)
    log.info("follow-up: the cheap rewrite stands rewrite_ms=%d", spent_ms)
    return Resolution(cheap.question, "rewritten", rewrite_ms=spent_ms, sections=sections)


def candidates_questions(message: str, candidates: Sequence[str]) -> list[str]:
    """One standalone question per candidate subject: what the clarification's buttons send."""
    return [for_candidate(message, topic) for topic in candidates]
