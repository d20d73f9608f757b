"""The answer pipeline: safety, retrieval, a grounded generation, checks, an extractive fallback, sources.

    answer_question(question) -> Answer   # raises LLMBusy when the model's queue is full

Every route ends in the same place: a reply text with its sources, redacted as the last step, so
the CLI, `rasa shell` and the webhook show exactly the same words.

The harm check runs on the question, on every retrieved passage (the notes quote a role-play
jailbreak beside harmless prompt examples: its lines reach neither the prompt nor a quote) and on the
generated reply. When the question is about a harmful part and nothing else relevant is left, the
reply is the harm refusal: "the notes don't cover this" would be untrue, and the section's heading
alone would point at it.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from llm_fallback.answer.lists import missing_items, without_item_marker
from llm_fallback.answer.prompt import (
    EXTRACT_BUDGET,
    NOT_IN_NOTES,
    PASSAGE_BUDGETS,
    Passage,
    SentenceSimilarity,
    best_sentences,
    fit_messages,
    select_passages,
    terms,
)
from llm_fallback.answer.safety import (
    Verdict,
    asks_for_redacted_value,
    check_request,
    filter_output,
    is_harmful,
    without_harmful_lines,
)
from llm_fallback.knowledge.embed import get_embedder
from llm_fallback.knowledge.retrieve import CLEAR_MATCH, Hit, get_retriever, sections_first
from llm_fallback.knowledge.vocabulary import Vocabulary, unknown_terms
from llm_fallback.llm.errors import LLMError
from llm_fallback.llm.service import LLM, GenerationResult, get_llm
from llm_fallback.text.grounding import unsupported_numbers
from llm_fallback.text.lang import Lang, detect_lang, is_in_lang
from llm_fallback.text.redact import redact
from llm_fallback.text.replies import say
from llm_fallback.text.sentences import sentences
from llm_fallback.text.terms import unnamed_terms
from llm_fallback.text.tokenize import translate_terms

log = logging.getLogger(__name__)

Route = Literal["answer", "extractive", "not_covered", "refused", "faq", "clarify"]

_CITATION = re.compile(r"\s*\[\d+(?:\s*[,，]\s*\d+)*\]")

# A quoted list may run longer than a quoted sentence: every item is the point.
LIST_QUOTE_BUDGET = 480
_TOPIC_SEP = {"zh": "、", "en": "; "}
_TERM_SEP = {"zh": "、", "en": ", "}
# How much of a question a passage must name to be clearly about it (see names_the_question).
NAMED_SHARE = 0.5
# How much of a question an answer that adds nothing to it must repeat to be only restating it.
RESTATED_SHARE = 0.8
# Words an answer uses to point at its passages, which tell the user nothing.
_POINTERS = "根据 笔记 片段 提到 according to the notes passage passages mentioned"
# "Yes"/"no" and their Chinese forms are stop-words, yet they answer a yes/no question.
_YES_OR_NO = re.compile(r"^\s*(?:是的|是[，,]|对[，,]|不|没|yes\b|no\b)", re.IGNORECASE)


class Searcher(Protocol):
    """Anything that searches the notes (knowledge.retrieve.Retriever, or a stub in tests)."""

    vocabulary: Vocabulary  # what the notes name anywhere

    def search(self, question: str, k: int = 5) -> list[Hit]: ...


@dataclass(frozen=True)
class Answer:
    text: str  # the whole reply as users see it, sources included, already redacted
    route: Route
    sources: tuple[Hit, ...]  # the passages the reply draws on, one per section
    latency_ms: int
    ttft_ms: int | None
    tokens: int
    question: str = ""  # the question answered, redacted: a follow-up's standalone reading

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "sources": [{"file": h.file, "heading": h.heading, "lines": h.lines} for h in self.sources],
            "route": self.route,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "tokens": self.tokens,
        }


def busy_reply(question: str) -> str:
    """What to tell the user when `answer_question` raised LLMBusy."""
    return say("busy", detect_lang(question))


def _clean(text: str) -> str:
    return _CITATION.sub("", text).strip()


def failed_checks(question: str, text: str, passages: Sequence[Passage], lang: Lang) -> list[str]:
    """Why a generated answer to `question` must not be shown; empty when it passes."""
    if not text:
        return ["empty"]
    failures = []
    # The passages only: a number the user typed ("is the port 8080?") is a claim to check, not
    # evidence; echoing it back would confirm it.
    evidence = "\n".join(p.text for p in passages)
    if unsupported_numbers(text, evidence):
        failures.append("number")
    if not is_in_lang(text, lang):
        failures.append("language")
    if passages[0].items and missing_items(text, passages[0].items, lang):
        failures.append("list")
    if repeats_itself(text):
        failures.append("repetition")
    if restates_the_question(question, text):
        failures.append("restated")
    elif only_names_its_sections(question, text, passages):
        failures.append("section title")
    return failures


def repeats_itself(text: str) -> bool:
    """A small model at temperature 0 can fall into a loop ("1. 暴搜 / 2. 二分查找 / 3. 二分查找 / …"):
    the same line, list markers aside, three times or more."""
    lines = Counter(without_item_marker(line) for line in text.splitlines())
    return any(count >= 3 for line, count in lines.items() if len(line) >= 2)


def says_not_in_notes(text: str) -> bool:
    """The model's "the passages do not answer this" (prompt rule 4), however it spelled the marker."""
    return NOT_IN_NOTES in re.sub(r"[\s_]+", " ", text).upper()


def restates_the_question(question: str, text: str) -> bool:
    """An answer that only restates its question: no word or number the question lacks, every technical
    term of it, most of its other words ("RAGFlow 默认用的是哪个 embedding 模型？" answered "RAGFlow
    默认用的是 embedding 模型。"). The small model writes this when it did not find the answer in its
    passages, which may still hold it, so the passages are quoted as for any failed check. An
    answer that picks one of the question's options ("GGUF is …" to "GPTQ, AWQ or GGUF?") drops the
    others' names, and is an answer, as is a "yes" or "no"."""
    if _YES_OR_NO.match(text):
        return False
    asked = terms(question)
    said = terms(text)
    if not asked or said - _words_it_may_repeat(question):
        return False
    if unnamed_terms(question, text):
        return False
    return len(asked & (said | terms(translate_terms(text)))) >= RESTATED_SHARE * len(asked)


def only_names_its_sections(question: str, text: str, passages: Sequence[Passage]) -> bool:
    """An answer made of the question's words and its passages' section titles, at least one title word
    among them ("数据湖的介绍" for "数据湖有哪些特点？"): the small model named where the answer is, not
    what it says."""
    said = terms(text)
    titles = terms(" ".join(p.hit.heading for p in passages))
    asked = _words_it_may_repeat(question)
    return bool(said & (titles - asked)) and said <= asked | titles


def _words_it_may_repeat(question: str) -> set[str]:
    """What an answer that adds nothing to `question` is made of: its words, their glossary
    translations, and the words that point at the passages."""
    return terms(question) | terms(translate_terms(question)) | _pointer_words()


@functools.cache
def _pointer_words() -> frozenset[str]:
    return frozenset(terms(_POINTERS))


def draws_on_nothing(text: str, passages: Sequence[Passage]) -> bool:
    """An answer that shares no term with its passages, in either language (glossary translations
    included), was not written from them: a poem the user asked for, a guess."""
    answer_terms = terms(text) | terms(translate_terms(text))
    return not any(terms(p.hit.text) & answer_terms for p in passages)


def names_the_question(question: str, text: str) -> bool:
    """Whether `text` names every technical term of the question and at least half of its other
    words, in either language: "Gemini 1.5 Pro 的上下文窗口有多大？" is not about a passage on
    context windows that never names Gemini, nor "NVIDIA's stock price" about one that names NVIDIA."""
    if unnamed_terms(question, text):
        return False
    asked = terms(question)
    named = (asked | terms(translate_terms(question))) & terms(text)
    return len(named) >= NAMED_SHARE * len(asked)


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
    return filter_output(f"{body}\n\n{say('sources', lang)}\n{listed}")


def _not_covered(hits: Sequence[Hit], lang: Lang, unknown: Sequence[str] = ()) -> str:
    topics = list(dict.fromkeys(h.heading.rsplit(" > ", 1)[-1] for h in hits if h.heading))[:3]
    body = say("not_covered", lang)
    if unknown:
        body += " " + say("never_mentioned", lang, terms=_TERM_SEP[lang].join(unknown))
    if topics:
        body += " " + say("closest", lang, topics=_TOPIC_SEP[lang].join(topics))
    return body


def _extract(passage: Passage, question: str, lang: Lang, similarity: SentenceSimilarity | None) -> str:
    if passage.items:
        return say("extract", lang) + "\n" + passage.items.quote(LIST_QUOTE_BUDGET)
    quote = best_sentences(passage.hit.text, terms(question), EXTRACT_BUDGET, similarity=similarity)
    return say("extract", lang) + quote


@functools.lru_cache(maxsize=4096)
def _harmful_passage(text: str) -> bool:
    """`is_harmful` for a chunk of the index: the same chunks come back for many questions, and the
    check costs ~0.1 ms on a long English chunk, so each runs once per process."""
    return is_harmful(text)


def _matches_its_harmful_part(question: str, hit: Hit) -> bool:
    """Whether the sentence of a harmful passage closest to `question` is itself harmful. The notes
    quote a jailbreak beside harmless prompt examples in one chunk; a question about the weather
    matches the example "今天天气还不错", not the jailbreak, and is not a harmful request."""
    parts = sentences(hit.text)
    if not parts:
        return True
    closeness = get_embedder().similarity_to(question)(parts)
    return _harmful_passage(parts[int(closeness.argmax())])


def _without_harm(question: str, hits: Sequence[Hit]) -> tuple[list[Hit], list[Hit]]:
    """The hits as the prompt, quotes and topics may use them, and the harmful hits the question is
    about. A harmful passage's harmful lines reach none of them; its other lines answer a question
    about them like any passage (the notes' prompt examples share a chunk with a quoted jailbreak)."""
    safe: list[Hit] = []
    about_harm: list[Hit] = []
    for h in hits:
        if not _harmful_passage(h.text):
            safe.append(h)
        elif _matches_its_harmful_part(question, h):
            about_harm.append(h)
        elif rest := without_harmful_lines(h.text):
            safe.append(replace(h, text=rest))
    return safe, about_harm


def _generate(question: str, passages: Sequence[Passage], lang: Lang,
              llm: LLM) -> tuple[str, GenerationResult | None, list[str]]:
    """The cleaned generated text, its generation, and why it must not be shown (empty: it may)."""
    max_tokens = llm.answer_tokens
    try:
        messages = fit_messages(question, passages, lang, lambda m: llm.overflow(m, max_tokens))
        generation = llm.generate(messages, max_tokens=max_tokens, temperature=0.0)
    except LLMError as exc:  # ContextOverflow included: the passage can still be quoted
        log.warning("LLM unavailable, answering extractively: %s: %s", type(exc).__name__, exc)
        return "", None, ["llm_error"]
    text = _clean(generation.text)
    if generation.timed_out:
        return text, generation, ["timeout"]
    return text, generation, failed_checks(question, text, passages, lang)


def answer_question(question: str, retriever: Searcher | None = None, llm: LLM | None = None,
                    k: int = 5, budgets: Sequence[int] = PASSAGE_BUDGETS,
                    sections: Sequence[str] = (), search_as: str = "") -> Answer:
    """Answer from the notes. Raises LLMBusy (reply with `busy_reply`) and IndexNotBuiltError.
    `budgets`: the characters of each passage the model sees, best first (bench.answer varies them).
    `sections`: where to look first, and `search_as`: what to search with instead of the question (a
    follow-up's previous sections, and the follow-up after its previous question: conversation.resolve)."""
    start = time.monotonic()
    lang = detect_lang(question)

    def done(body: str, route: Route, sources: Sequence[Hit] = (),
             generation: GenerationResult | None = None) -> Answer:
        latency_ms = round((time.monotonic() - start) * 1000)
        ttft_ms = round(generation.ttft_s * 1000) if generation and generation.ttft_s is not None else None
        log.info("answer route=%s lang=%s latency_ms=%d sources=%d", route, lang, latency_ms, len(sources))
        return Answer(compose_reply(body, sources, lang), route, tuple(sources), latency_ms, ttft_ms,
                      generation.tokens if generation else 0, question)

    verdict = check_request(question)
    if verdict is not None:
        log.info("refused: %s", verdict.reason)
        return done(verdict.reply(lang), "refused")

    # A secret the user pasted must not reach the index query, the prompt or a log line.
    question = redact(question).text
    searcher = retriever or get_retriever()
    query = redact(search_as).text or question
    hits = sections_first(searcher.search(query, k=k), sections)
    safe, about_harm = _without_harm(question, hits)
    relevant = [h for h in safe if h.relevant]
    # The relevance gate is lenient (the model has the last word), so a harmful passage that merely
    # passed it says nothing about the question; one that clearly matches it, on its harmful part,
    # means the question is about that passage, and "not covered" would be untrue.
    if not relevant and any(h.relevance >= CLEAR_MATCH for h in about_harm):
        log.info("refused: harmful passages")
        return done(Verdict("harmful").reply(lang), "refused")
    # Meaning similarity finds the sentences a term match misses (answer.prompt.best_sentences); it
    # costs an encoding, so only when there are passages to trim. The stub searchers of tests have no
    # encoder behind them.
    similarity = get_embedder().similarity_to(question) if relevant and retriever is None else None
    passages = select_passages(relevant, question, budgets, similarity)
    if not passages:
        return done(_not_covered(safe, lang), "not_covered")
    if asks_for_redacted_value(question, (p.text for p in passages)):
        log.info("refused: credential (a redacted value asked for as written)")
        return done(Verdict("credential").reply(lang), "refused")
    # However close a passage on a neighbouring subject ranks, it cannot answer for a subject the
    # notes never name, and the model, asked anyway, answers from its own memory.
    unknown = unknown_terms(question, searcher.vocabulary)
    if unknown:
        log.info("the notes never name %d term(s) of the question", len(unknown))
        return done(_not_covered(safe, lang, unknown), "not_covered")

    text, generation, failures = _generate(question, passages, lang, llm or get_llm())
    if not failures and is_harmful(text):
        log.info("refused: harmful reply")
        return done(Verdict("harmful").reply(lang), "refused", (), generation)
    best = passages[0]
    not_in_notes = says_not_in_notes(text)
    # Checked only after the model's NOT IN NOTES: tokenising the passage costs every other answer.
    if not_in_notes and best.hit.relevance >= CLEAR_MATCH and names_the_question(question, best.hit.text):
        # The small model misses answers worded unlike the question; when the passage is clearly
        # about it, "not covered" would be untrue, so the notes speak.
        log.info("the model found no answer in a clearly matching passage: quoting it")
        return done(_extract(best, question, lang, similarity), "extractive", [best.hit], generation)
    if not_in_notes or (text and not failures and draws_on_nothing(text, passages)):
        log.info("the model found no answer in its passages")
        return done(_not_covered(safe, lang), "not_covered", (), generation)
    if failures:
        log.info("extractive fallback: %s", ",".join(failures))
        return done(_extract(best, question, lang, similarity), "extractive", [best.hit], generation)
    return done(text, "answer", [p.hit for p in _used_passages(text, passages)], generation)
