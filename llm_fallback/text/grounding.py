"""Grounding checks on text: numbers a reply states that its evidence does not.

Used by the answer pipeline and by the offline FAQ tools, which need this one check and nothing else
of the pipeline."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_LIST_MARK = re.compile(r"(?m)^\s*\d+[.、)]\s+")  # "1. " enumerates, it claims nothing


def _normalise_numbers(text: str) -> list[str]:
    return _NUMBER.findall(_THOUSANDS.sub("", text))


def unsupported_numbers(answer: str, evidence: str) -> list[str]:
    """Numbers in the answer that appear nowhere in the evidence (for answers: the passages only)."""
    allowed = set(_normalise_numbers(evidence))
    return [n for n in _normalise_numbers(_LIST_MARK.sub("", answer)) if n not in allowed]
