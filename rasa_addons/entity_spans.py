"""Entity spans as DIET tags them, snapped to the values the training data knows.

DIET labels token by token, so a span can run past its value ("QLoRA fine-tuning", "temperature
outside"), stop inside it ("epoch" of "epochs"), or fall on a word that only sits near a value
("size" of "chunk size", the "8" of "8 GB", "机器"). The skills understand a small vocabulary per
entity (the annotated values, lookup tables and synonyms of data/nlu.yml) and, for model sizes, a
pattern. So a span that overlaps a known value or a pattern match becomes that value; a span that
overlaps none is kept only when it shares a word with a known value of its entity ("一张 3090"
beside "一张 4090", "simplest" beside "simple"), and dropped otherwise.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]+")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_STEM = 5


@dataclass(frozen=True)
class Vocabulary:
    """What each entity's values may be: known spellings, and patterns for open-ended values."""

    values: Mapping[str, Sequence[str]]
    patterns: Mapping[str, Sequence[str]]

    @functools.cached_property
    def words(self) -> dict[str, set[str]]:
        """The words (`_words`) of each entity's known values, worked out once per model load."""
        return {entity: set().union(*map(_words, known)) for entity, known in self.values.items()}

    def to_json(self) -> dict:
        return {"values": {k: list(v) for k, v in self.values.items()},
                "patterns": {k: list(v) for k, v in self.patterns.items()}}

    @classmethod
    def from_json(cls, data: Mapping) -> Vocabulary:
        return cls(dict(data.get("values", {})), dict(data.get("patterns", {})))


def fit_vocabulary(annotated: Iterable[tuple[str, str]], lookups: Mapping[str, Iterable[str]],
                   synonyms: Mapping[str, str], patterns: Mapping[str, Iterable[str]]) -> Vocabulary:
    """The vocabulary of every annotated entity: its annotated values, the lookup table of its name,
    the synonyms of those values (both spellings), and the regexes of its name."""
    values: dict[str, set[str]] = {}
    for entity, value in annotated:
        values.setdefault(entity, set()).add(value)
    for entity, known in values.items():
        known.update(lookups.get(entity, ()))
        lowered = {v.lower() for v in known}
        known.update(s for s, canonical in synonyms.items()
                     if s.lower() in lowered or canonical.lower() in lowered)
    return Vocabulary({e: sorted(v) for e, v in values.items()},
                      {e: list(patterns[e]) for e in values if patterns.get(e)})


def _stands_alone(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is not part of a longer Latin word or number ("lora" in "QLoRA")."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    glued_before = bool(before) and bool(_WORD_CHAR.match(before)) and bool(_WORD_CHAR.match(text[start]))
    glued_after = bool(after) and bool(_WORD_CHAR.match(after)) and bool(_WORD_CHAR.match(text[end - 1]))
    return not (glued_before or glued_after)


def known_spans(text: str, entity: str, vocabulary: Vocabulary) -> list[tuple[int, int]]:
    """Where `text` holds a known value or a pattern match of `entity`, as (start, end)."""
    spans = []
    lowered = text.lower()
    for value in vocabulary.values.get(entity, ()):
        needle = value.lower()
        start = lowered.find(needle)
        while start >= 0:
            end = start + len(needle)
            if _stands_alone(text, start, end):
                spans.append((start, end))
            start = lowered.find(needle, start + 1)
    for pattern in vocabulary.patterns.get(entity, ()):
        spans.extend(m.span() for m in re.finditer(pattern, text) if m.end() > m.start())
    return spans


def _words(text: str) -> set[str]:
    """Latin words by their stem (the first five letters: "simplest" is "simple", "overfitting" is
    "overfit"), and the two-character pieces of Chinese runs (Chinese has no spaces)."""
    words = {w.lower()[:_STEM] for w in _LATIN_WORD.findall(text)}
    for run in _CJK_RUN.findall(text):
        words.update(run[i:i + 2] for i in range(max(1, len(run) - 1)))
    return words


def snapped_span(text: str, entity: str, start: int, end: int,
                 vocabulary: Vocabulary) -> tuple[int, int] | None:
    """The span an entity tagged at text[start:end] should have; None to drop it. An entity the
    vocabulary does not know passes unchanged."""
    if entity not in vocabulary.values:
        return start, end
    overlapping = [(s, e) for s, e in known_spans(text, entity, vocabulary) if s < end and e > start]
    if overlapping:
        # The value sharing most characters with the tag; the longer one on a tie: a tag on
        # "learning rate" of "learning rate scheduler" is the scheduler.
        return max(overlapping, key=lambda span: (min(end, span[1]) - max(start, span[0]), span[1] - span[0]))
    if _words(text[start:end]) & vocabulary.words[entity]:
        return start, end
    return None


def snapped_entities(text: str, entities: Iterable[dict], vocabulary: Vocabulary) -> list[dict]:
    """`entities` (Rasa's dicts: entity, start, end, value) with their spans snapped, the dropped ones
    left out, and one of each entity and span: "学习率" and "器" of "学习率调度器" both snap to it."""
    kept: list[dict] = []
    seen: set[tuple[str, int, int]] = set()
    for entity in entities:
        start, end = entity.get("start"), entity.get("end")
        if start is None or end is None:
            kept.append(entity)
            continue
        span = snapped_span(text, entity["entity"], start, end, vocabulary)
        if span is None or (entity["entity"], *span) in seen:
            continue
        seen.add((entity["entity"], *span))
        if span != (start, end):
            entity = {**entity, "start": span[0], "end": span[1], "value": text[span[0]:span[1]]}
        kept.append(entity)
    return kept
