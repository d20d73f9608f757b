"""A passage split into sentences, the unit both retrieval's sentence vectors and prompt trimming use."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|\n+|(?<=[.!?])\s+(?=[A-Z\u4e00-\u9fff])")
_MARKUP = re.compile(r"^[\s#>*\-+|`]+|(?:\*\*|__|`)|\s+$")


def sentences(text: str) -> list[str]:
    """The sentences and lines of `text`, Markdown markup stripped, single characters dropped."""
    cleaned = (_MARKUP.sub("", s) for s in _SENTENCE_END.split(text))
    return [s for s in cleaned if len(s) > 1]
