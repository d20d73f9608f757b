"""What the notes name anywhere: a question about a subject they never mention ("How many parameters
does MiniCPM have?", "Chinchilla 定律…") has no answer in them, however close a passage on a
neighbouring subject ranks, and a small model asked anyway answers from its own memory.

    vocabulary = Vocabulary.of(chunk texts)
    unknown_terms(question, vocabulary) -> the question's technical terms the notes never name

A term counts as named when the notes write it with other case, spaces, hyphens or dots ("vllm",
"Qwen 2"), in the glossary's other language (VRAM: 显存), as the singular of a plural, with one
letter different (a typo on either side: LocalDateTime / LocalDataTime; digits must match), or,
for a model size, in 亿 (175B: 1750亿).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from llm_fallback.text.terms import technical_terms
from llm_fallback.text.tokenize import translate_terms

_SEPARATORS = re.compile(r"[\s\-_./]+")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*[A-Za-z0-9]")
_MODEL_SIZE = re.compile(r"(\d+(?:\.\d+)?)b")
_LOWERCASE_WORD = re.compile(r"[a-z]+")
# Shorter words are too alike for a one-letter difference to be a typo (top_p / top_k).
TYPO_MIN_LENGTH = 6


def squash(text: str) -> str:
    """`text` lowercased, without spaces, hyphens, underscores, dots and slashes."""
    return _SEPARATORS.sub("", text.lower())


@dataclass(frozen=True)
class Vocabulary:
    text: str  # every passage, squashed
    words_by_length: dict[int, frozenset[str]]  # the notes' Latin words, for a misspelt term

    @classmethod
    def of(cls, texts: Iterable[str]) -> Vocabulary:
        joined = "\n".join(texts)
        by_length: dict[int, set[str]] = defaultdict(set)
        for word in map(squash, _LATIN_WORD.findall(joined)):
            by_length[len(word)].add(word)
        return cls(squash(joined), {n: frozenset(words) for n, words in by_length.items()})

    def names(self, term: str) -> bool:
        squashed = squash(term)
        if not squashed or squashed in self.text:
            return True
        if any(squash(other) in self.text for other in translate_terms(term).split()):
            return True
        if squashed.endswith("s") and squashed[:-1] in self.text:
            return True
        size = _MODEL_SIZE.fullmatch(squashed)
        if size and f"{float(size.group(1)) * 10:g}亿" in self.text:
            return True
        # A digit is a version or a size, never a typo: Qwen3 is not Qwen2.
        return len(squashed) >= TYPO_MIN_LENGTH and squashed.isalpha() and any(
            _one_edit_apart(squashed, word)
            for n in (len(squashed) - 1, len(squashed), len(squashed) + 1)
            for word in self.words_by_length.get(n, ()))


def _one_edit_apart(a: str, b: str) -> bool:
    """Whether one substitution, insertion or deletion turns `a` into `b`."""
    if len(a) > len(b):
        a, b = b, a
    start = 0
    while start < len(a) and a[start] == b[start]:
        start += 1
    if len(a) == len(b):
        return a[start + 1:] == b[start + 1:]
    return a[start:] == b[start + 1:]


def _subject(term: str) -> str:
    """A hyphenated English word by the parts that name something: "GPT-style" by GPT, "fine-tuning"
    by nothing (it is an ordinary word)."""
    parts = term.split("-")
    if len(parts) == 1:
        return term
    return "-".join(p for p in parts if not _LOWERCASE_WORD.fullmatch(p))


def unknown_terms(question: str, vocabulary: Vocabulary) -> list[str]:
    """The question's technical terms (text.terms) that the notes never name."""
    subjects = (_subject(term) for term in technical_terms(question))
    return [s for s in subjects if len(s) >= 2 and not vocabulary.names(s)]
