"""Chinese-or-English detection for questions and answers that mix both (Chinese prose, English terms)."""

from __future__ import annotations

import re
from typing import Literal

Lang = Literal["zh", "en"]

# The one definition of a Chinese character (CJK unified ideographs, extension A, compatibility
# ideographs) for language detection, tokenizing and matching. text/redact.py keeps its own wider
# ranges (kana, Hangul, full-width forms): it marks where a secret may end, and must stay self-contained.
CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK = re.compile(f"[{CJK_RANGES}]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")

# Two Chinese characters weigh as one English word (a typical Chinese word length). Chinese prose
# carries English terms ("QLoRA 是怎么节省显存的"), English prose a quoted Chinese term or two, so
# Chinese wins below an even split.
_CHARS_PER_WORD = 2
_ZH_SHARE = 0.4


def cjk_share(text: str) -> float:
    """Share of Chinese words (estimated) among Chinese plus English words; 0 when neither."""
    cjk = len(CJK.findall(text)) / _CHARS_PER_WORD
    words = len(_LATIN_WORD.findall(text))
    return cjk / (cjk + words) if cjk + words else 0.0


def detect_lang(text: str) -> Lang:
    return "zh" if cjk_share(text) >= _ZH_SHARE else "en"


def is_in_lang(text: str, lang: Lang) -> bool:
    """Whether an answer reads as `lang`; quoted terms from the other language are allowed."""
    return detect_lang(text) == lang


_TERM = re.compile(r"\S*(?:\d|_|[a-z][A-Z]|[A-Z]{2})\S*")


def is_bare_term(text: str) -> bool:
    """A message that is one technical term ("7B", "QLoRA", "fp16", "top_p"): it carries no language,
    so a conversation keeps the language it had."""
    text = text.strip()
    return bool(text) and not CJK.search(text) and _TERM.fullmatch(text) is not None
