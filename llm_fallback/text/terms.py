"""Technical terms in a question or a passage: the Latin words that name a subject (LoRA, top_p, 7B,
HNSW), which conversations take as a follow-up's topic and answers check a passage for."""

from __future__ import annotations

import re

from llm_fallback.text.lang import CJK

# A technical term: digits, underscores, inner capitals or two capitals (LoRA, top_p, 7B, HNSW),
# or, in Chinese text, any Latin word of two letters or more (Chinese prose writes terms in Latin).
_TECH_TERM = re.compile(r"[A-Za-z][A-Za-z0-9_.+\-]*[A-Za-z0-9]|\d+(?:x\d+)?(?:\.\d+)?\s*[BbMm]\b")
_INNER_MARK = re.compile(r"\d|_|[a-z][A-Z]|[A-Z]{2}|[A-Za-z][-.][A-Za-z]")
# Latin words Chinese prose uses for everyday things, not for the subject of a question.
_NOT_SUBJECTS = frozenset({
    "cpu", "cpus", "gpu", "gpus", "api", "llm", "llms", "ai", "token", "tokens", "gb", "ok", "pdf",
    "json", "http", "url", "prompt", "python",
    # A language the question is asked about ("how many English words is 1k tokens?") is no subject.
    "english", "chinese",
})
_EN_COMMON_CAPITALISED = frozenset({
    "what", "how", "why", "when", "where", "which", "who", "is", "are", "and", "does", "do", "can",
    "should", "tell", "explain", "give", "the", "a", "i"
})


def technical_terms(text: str, chinese: bool | None = None) -> list[str]:
    """Latin technical terms in `text`, first mention first, each once (case-insensitive). In Chinese
    text (`chinese`: of the message `text` comes from; by default `text` itself) every Latin word counts."""
    chinese = CJK.search(text) is not None if chinese is None else chinese
    found: dict[str, str] = {}
    for match in _TECH_TERM.finditer(text):
        term = match.group().strip()
        if term.lower() in _EN_COMMON_CAPITALISED or term.lower() in _NOT_SUBJECTS or len(term) < 2:
            continue
        sentence_start = match.start() == 0 or text[: match.start()].rstrip()[-1:] in ".?!"
        capitalised = term[0].isupper() and not sentence_start
        if chinese or _INNER_MARK.search(term) or capitalised:
            found.setdefault(term.lower(), term)
    return list(found.values())


def unnamed_terms(question: str, text: str) -> list[str]:
    """The question's technical terms that `text` never names (case-insensitive)."""
    lowered = text.lower()
    return [t for t in technical_terms(question) if t.lower() not in lowered]
