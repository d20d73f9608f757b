"""List questions: "what are the steps / which types ..." must be answered with every item.

A small model asked for a list often names one item and stops. The notes write lists as Markdown
items, so the passage tells how many items a complete answer names; an answer that leaves some out
fails `failed_checks`, and the reply quotes the list instead.
"""

from __future__ import annotations

import re

_LIST_QUESTION = re.compile(
    r"哪些|哪几|几种|几类|几个|几步|分别|步骤|流程|列出|列举|包括什么|包含什么|有什么(?:方法|方式|类型|种类|组件|部分)"
    r"|\b(?:what|which) (?:are|were)\b|\blist (?:the|all|of)\b|\bsteps?\b|\bkinds? of\b|\btypes? of\b"
    r"|\bcomponents\b"
    r"|\bname (?:the|all)\b|\bwhat \w+s (?:do|does|are)\b",
    re.IGNORECASE,
)
_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,2}[.)、]|[（(]\d{1,2}[)）])\s+(.+?)\s*$", re.MULTILINE)
# An item's head: what it is called, before its explanation ("思维链 Chain of Thought, CoT：...").
_HEAD_END = re.compile(r"[：:（(，,。；;]|\s[-–—]\s|https?://")
_MARKUP = re.compile(r"\*\*|__|`|\[|\]\([^)]*\)")
# A Latin name is the whole phrase ("Tree of Thought"): its words alone are shared by its siblings.
_LATIN_PHRASE = re.compile(r"[A-Za-z][A-Za-z0-9_.+-]*(?:[ \t]+[A-Za-z][A-Za-z0-9_.+-]*)*")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


def is_list_question(question: str) -> bool:
    return bool(_LIST_QUESTION.search(question))


def list_items(text: str) -> list[str]:
    """The heads of the Markdown list items in `text`, in order."""
    heads = []
    for match in _ITEM.finditer(text):
        item = _MARKUP.sub("", match.group(1)).strip()
        head = _HEAD_END.split(item, maxsplit=1)[0].strip()
        if head:
            heads.append(head)
    return heads


def _names(head: str, lang: str) -> list[str]:
    """Ways an answer in `lang` may name an item: its Latin terms, and in Chinese its Chinese words.
    An English answer translates a Chinese-only item, which no word check can verify: it has none."""
    latin = [t.lower() for t in _LATIN_PHRASE.findall(head) if len(t) >= 2]
    return latin + _CJK_RUN.findall(head) if lang == "zh" else latin


def missing_items(answer: str, passage: str, lang: str) -> list[str]:
    """The list items of `passage` that `answer` (in `lang`) does not name; empty when the passage has
    no list of two items or more."""
    heads = list_items(passage)
    if len(heads) < 2:
        return []
    text = answer.lower()
    missing = []
    for head in heads:
        names = _names(head, lang)
        if names and not any(name.lower() in text for name in names):
            missing.append(head)
    return missing


def quote_list(passage: str, budget: int) -> str:
    """The list of `passage` as the notes write it (one item per line), within `budget` characters."""
    lines: list[str] = []
    used = 0
    for match in _ITEM.finditer(passage):
        line = "- " + _MARKUP.sub("", match.group(1)).strip()
        if used + len(line) > budget and lines:
            break
        lines.append(line[:budget])
        used += len(line) + 1
    return "\n".join(lines)
