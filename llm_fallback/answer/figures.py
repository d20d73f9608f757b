"""Figures the notes report for one model and setting ("Llama 2 7B needs about 14GB for inference").

A skill's rule of thumb estimates; where the notes wrote down a figure for the model size and the
use asked about, that figure is the better answer, so the skill shows it first, with its source.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llm_fallback.text.sentences import sentences

if TYPE_CHECKING:
    from llm_fallback.answer.pipeline import Searcher
    from llm_fallback.knowledge.retrieve import Hit

_MEMORY = re.compile(r"\d+(?:\.\d+)?\s*(?:GB|GiB|G)(?![A-Za-z])", re.IGNORECASE)
# A sentence that names another size is about another model ("7B" is not in "70B": see _size).
_SIZE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*B(?![A-Za-z])", re.IGNORECASE)


@dataclass(frozen=True)
class Reported:
    sentence: str
    hit: Hit


def _names_size(sentence: str, billions: float) -> bool:
    return any(float(m.group(1)) == billions for m in _SIZE.finditer(sentence))


def reported_figure(question: str, billions: float, use_words: Sequence[str], searcher: Searcher,
                    k: int = 5) -> Reported | None:
    """The first sentence of the relevant passages that names this size, one of `use_words` (how the
    notes say the use: 推理, LoRA, 全量 ...) and a memory figure; None when the notes report none."""
    words = [w.lower() for w in use_words]
    for hit in searcher.search(question, k=k):
        if not hit.relevant:
            continue
        parts = sentences(hit.text)
        # One sentence, or two in a row: "65B 的 LLaMA 微调要 780GB；而用了 QLoRA 之后，只需要 48GB".
        pairs = (f"{a} {b}" for a, b in itertools.pairwise(parts) if _names_size(a, billions))
        for text in [*parts, *pairs]:
            names_use = any(w in text.lower() for w in words)
            if names_use and _names_size(text, billions) and _MEMORY.search(text):
                return Reported(text, hit)
    return None
