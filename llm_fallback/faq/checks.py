"""Automatic checks on a generated FAQ pair; each failure is a short recorded reason.

- ``unsupported``: the answer (or question) states a number, or a technical term, that the source
  chunk does not contain, or the Chinese answer's words are mostly not the chunk's words.
- ``redacted``: the pair contains the redaction mark, or draws on a chunk sentence that does.
- ``duplicate``: a kept pair's question is nearly the same (embedding similarity, same language).
- ``language``: the Chinese side is not Chinese or the English side not English.
"""

from __future__ import annotations

import re

import numpy as np

from llm_fallback.answer.prompt import terms
from llm_fallback.text.grounding import unsupported_numbers
from llm_fallback.text.lang import detect_lang
from llm_fallback.text.redact import MARK
from llm_fallback.text.sentences import sentences

# Technical terms in an answer: identifiers (top_p, Qwen2-7B, 4bit), all-caps acronyms (GPU, RAG),
# mixed case (LoRA, vLLM). Plain English words are not checked: a Chinese chunk has none.
_TERM = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_+#]|[.\-/](?=[A-Za-z0-9]))*")
_ALLOWED_TERMS = frozenset({"i", "a", "faq", "ai", "llm", "llms"})  # generic enough to never be a claim
MIN_ZH_COVERAGE = 0.5
_REDACTED_WORDS = ("REDACTED", "[REDACTED")


def _is_technical(term: str) -> bool:
    if term.lower() in _ALLOWED_TERMS or term.isdigit():
        return False  # numbers are checked on their own
    has_digit = any(c.isdigit() for c in term)
    # A hyphen joins plain English words too (pre-trained, fine-tuning): lower-case words stay unchecked.
    has_sep = any(c in "_./+#" for c in term) or ("-" in term and not term.replace("-", "").islower())
    upper_inside = any(c.isupper() for c in term[1:])
    return has_digit or has_sep or upper_inside or (term.isupper() and len(term) > 1)


def _squash(text: str) -> str:
    """Lower case without separators, so ``top-p`` in an answer meets ``top_p`` in the chunk."""
    return re.sub(r"[\s_\-./]", "", text.lower())


def unsupported_terms(text: str, evidence: str) -> list[str]:
    squashed = _squash(evidence)
    return [t for t in _TERM.findall(text) if _is_technical(t) and _squash(t) not in squashed]


def zh_coverage(answer: str, evidence: str) -> float:
    """Share of the Chinese answer's content words (jieba tokens) that the chunk also uses."""
    words = {t for t in terms(answer) if not t.isascii()}
    if not words:
        return 1.0
    chunk_words = terms(evidence)
    return sum(1 for w in words if w in chunk_words or w in evidence) / len(words)


def unsupported_reason(q_zh: str, a_zh: str, q_en: str, a_en: str, evidence: str) -> str | None:
    """Why the chunk does not support the pair, or None when it does."""
    numbers = unsupported_numbers(" ".join((q_zh, a_zh, q_en, a_en)), evidence)
    if numbers:
        return f"unsupported: number {numbers[0]}"
    missing = unsupported_terms(" ".join((q_zh, a_zh, q_en, a_en)), evidence)
    if missing:
        return f"unsupported: term {missing[0]}"
    coverage = zh_coverage(a_zh, evidence)
    if coverage < MIN_ZH_COVERAGE:
        return f"unsupported: {coverage:.0%} of the answer's words are in the chunk"
    return None


def redacted_reason(pair_text: str, chunk_text: str) -> str | None:
    """The pair shows the redaction mark, or shares two terms or more with a redacted sentence."""
    if any(word in pair_text for word in _REDACTED_WORDS):
        return "redacted: the pair contains redacted text"
    if MARK not in chunk_text:
        return None
    pair_terms = terms(pair_text)
    for sentence in sentences(chunk_text):
        if MARK in sentence and len(terms(sentence.replace(MARK, " ")) & pair_terms) >= 2:
            return "redacted: draws on a redacted sentence"
    return None


def language_reason(q_zh: str, a_zh: str, q_en: str, a_en: str) -> str | None:
    for text, lang in ((q_zh, "zh"), (a_zh, "zh"), (q_en, "en"), (a_en, "en")):
        if detect_lang(text) != lang:
            return f"language: {lang} side is not {lang}"
    return None


def duplicate_of(vectors: np.ndarray, kept: np.ndarray, keys: list[str], threshold: float) -> str | None:
    """Key of a kept pair whose question (same language) is at least ``threshold`` similar.

    ``vectors`` is (2, DIM) for the new pair, ``kept`` (n, 2, DIM) in ``keys`` order."""
    if not len(kept):
        return None
    sims = np.einsum("nld,ld->nl", kept, vectors).max(axis=1)
    best = int(np.argmax(sims))
    return keys[best] if sims[best] >= threshold else None
