"""List questions: "what are the steps / which types ..." must be answered with every item.

A small model asked for a list often names one item and stops. The notes write lists as Markdown
items, so the passage tells how many items a complete answer names; an answer that leaves some out
fails `failed_checks`, and the reply quotes the list instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from llm_fallback.text.sentences import sentences

_LIST_QUESTION = re.compile(
    r"哪些|哪几|哪[两二三四五六七八九十\d]+|几种|几类|几个|几步|分别|步骤|流程|列出|列举|包括什么|包含什么"
    r"|有什么(?:方法|方式|类型|种类|组件|部分)"
    r"|\b(?:what|which) (?:are|were)\b|\blist (?:the|all|of)\b|\bsteps?\b|\bkinds? of\b|\btypes? of\b"
    r"|\bcomponents\b"
    r"|\bname (?:the|all)\b|\bwhat \w+s (?:do|does|are)\b"
    # "Which vector databases do the notes list?", "Which generation parameters do the notes flag …?"
    r"|\b(?:which|what)\s+(?:[\w*+-]+\s+){0,3}[a-z]{2,}[^s\W]s\s+(?:do|does|did)\s+the\s+notes?\b"
    # "Which statuses …", "what other tasks …", "the notes split X into which three families?"
    r"|\b(?:which|what|(?:two|three|four|five|six|seven|eight|nine|ten))\s+(?:[\w*+-]+\s+){0,3}"
    r"(?:approaches|statuses|famil(?:y|ies)|frameworks|methods|projects|platforms|fields|tasks|variants|tools"
    r"|stages|parts|ways|points|items|features|characteristics|advantages|disadvantages|benefits|drawbacks"
    r"|options|situations|scenarios|techniques|strategies|categories|dimensions|things|elements|keys|libraries"
    r"|algorithms|formats|commands|switches|requirements|challenges|problems|reasons)\b",
    re.IGNORECASE,
)
# "- item", "1. item", "（1）item", and the notes' "1.item" / "2、item" with no space (not "1.5B").
_ITEM = re.compile(r"^\s*(?:[-*+]\s+|\d{1,2}[.)、](?:\s+|(?=[^\s\d]))|[（(]\d{1,2}[)）]\s*)(.+?)\s*$")
# An item's head: what it is called, before its explanation ("思维链 Chain of Thought, CoT：...").
_HEAD_END = re.compile(r"[：:（(，,。；;]|\s[-–—]\s|https?://")
_MARKUP = re.compile(r"\*\*|__|`|\[|\]\([^)]*\)")
# A Latin name is the whole phrase ("Tree of Thought"): its words alone are shared by its siblings.
_LATIN_PHRASE = re.compile(r"[A-Za-z][A-Za-z0-9_.+-]*(?:[ \t]+[A-Za-z][A-Za-z0-9_.+-]*)*")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
_QUOTE_MARKS = re.compile(r"^\s*(?:>\s?)+")
# A quoted item's marker, line break and ellipsis.
_ITEM_OVERHEAD = 4
# However little room a quote has, an item keeps its head up to this: it is what the list check looks for.
MAX_HEAD_CHARS = 40


def is_list_question(question: str) -> bool:
    return bool(_LIST_QUESTION.search(question))


@dataclass(frozen=True)
class ItemList:
    """One run of consecutive list items in a passage, with the line that introduces it."""

    intro: str  # what the items are ("目前主要有几类："), markup removed; "" when none
    items: tuple[str, ...]  # each item's text, markup removed
    # Up to two lines before the intro, back to their section's heading: what the list belongs to
    # ("我想让你充当广告商。" / "提示词模版:" before "您将创建一个活动…" and its items).
    context: str = ""

    @property
    def heads(self) -> list[str]:
        """What each item is called, before its explanation."""
        heads = (_head(item) for item in self.items)
        return [head for head in heads if head]

    def quote(self, budget: int) -> str:
        """The intro and every item, one per line, within about `budget` characters. When the items do
        not all fit, the longest are cut to an equal share of the room, never shorter than their
        head: a list quoted without its last items reads as complete, and fails the list check."""
        intro = _shortened(self.intro, budget // 3)
        room = budget - len(intro) - _ITEM_OVERHEAD * len(self.items)
        cap = _fair_share([len(item) for item in self.items], room)
        lines = [intro] if intro else []
        for item in self.items:
            keep = max(cap, min(len(_head(item)), MAX_HEAD_CHARS))
            lines.append("- " + _shortened(item, keep))
        return "\n".join(lines)


def _head(item: str) -> str:
    """What an item is called, before its explanation ("思维链 Chain of Thought" of "…, CoT")."""
    return _HEAD_END.split(item, maxsplit=1)[0].strip()


def _shortened(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars].rstrip() + "…"


def _fair_share(lengths: list[int], room: int) -> int:
    """The largest cap such that the lengths, each cut to it, sum to at most `room` (0 when none does)."""
    remaining = room
    for count, length in enumerate(sorted(lengths)):
        left = len(lengths) - count  # this item and the longer ones all take the cap
        if length * left > remaining:
            return max(remaining // left, 0)
        remaining -= length
    return max(lengths, default=0)


def without_item_marker(line: str) -> str:
    """`line` without its list marker ("- ", "1. ", "1.", "（1）"), stripped."""
    match = _ITEM.match(line)
    return match.group(1) if match else line.strip()


def _clean(line: str) -> str:
    return _MARKUP.sub("", line).strip(" #>*\t")


def item_lists(text: str) -> list[ItemList]:
    """The lists of two items or more in `text`, in order of their first item. Blank lines and
    indented continuation lines stay inside a list; any other line ends it and may introduce the
    next one. Items indented under an item are a list of their own, introduced by that item: the
    notes nest a method's fields under its name ("- DPOTrainer: …" / "  - prompt" / "  - chosen")."""
    # (intro, context, items) of every list, in order of its first item
    begun: list[tuple[str, str, list[str]]] = []
    open_lists: list[tuple[int, list[str]]] = []  # (indent, items) of the lists still open, outermost first
    lead: list[str] = []  # the lines since the last heading (included) that are not items
    for line in text.splitlines():
        match = _ITEM.match(line)
        if match:
            indent = len(line) - len(line.lstrip())
            item = _clean(match.group(1))
            while open_lists and open_lists[-1][0] > indent:
                open_lists.pop()
            if open_lists and open_lists[-1][0] == indent:
                open_lists[-1][1].append(item)
            else:
                items = [item]
                if open_lists:  # nested: introduced by the item it sits under
                    begun.append((open_lists[-1][1][-1], "", items))
                else:
                    begun.append((lead[-1] if lead else "", " ".join(lead[-3:-1]), items))
                open_lists.append((indent, items))
        elif not line.strip() or line.lstrip().startswith("```") or (open_lists and line[:1].isspace()):
            continue  # a code fence neither ends a list nor replaces its intro
        else:
            open_lists.clear()
            if line.lstrip().startswith("#"):
                lead.clear()
            lead.append(_clean(line))
    return [ItemList(intro, tuple(items), context) for intro, context, items in begun if len(items) >= 2]


def introduced_items(text: str) -> tuple[list[str], dict[int, list[int]]]:
    """The sentences of `text` (text.sentences), and for each sentence that introduces list items,
    the indices of the sentences of those items. An intro is a sentence ending in a colon ("是一个还有
    以下 3 个键的字典：" and its three keys), a heading ("## 向量库选择" and the databases under it), or
    a line the items follow directly ("采用不同的分块方式" over "1.基本的字符数分割…"). Items indented
    less than the first one belong to an outer list and end it; block-quote marks do not count."""
    found: list[str] = []
    items_of: dict[int, list[int]] = {}
    intro: tuple[int, int] | None = None  # (sentence index, indent) of the intro whose items follow
    plain_line: tuple[int, int] | None = None  # the line just before, an intro if items follow it
    for line in text.splitlines():
        line = _QUOTE_MARKS.sub("", line)
        own = sentences(line)
        if not own:
            if not line.strip():
                plain_line = None  # after a blank line, items are no longer that line's
            continue
        indent = len(line) - len(line.lstrip())
        first = len(found)
        found.extend(own)
        is_item = _ITEM.match(line) is not None
        lead = intro or plain_line
        plain_line = None
        if is_item and lead and indent >= lead[1]:
            # The first item sets the list's indent: "- RLHF:" owns the items nested under it, not
            # its siblings after them.
            intro = lead if lead[0] in items_of else (lead[0], indent)
            items_of.setdefault(lead[0], []).extend(range(first, len(found)))
            continue
        intro = None
        if own[-1].endswith((":", "：")) or line.lstrip().startswith("#"):
            intro = (len(found) - 1, indent)
        elif not is_item:
            plain_line = (len(found) - 1, indent)
    return found, items_of


def best_list(text: str, relevance: Callable[[str], float]) -> ItemList | None:
    """The list of `text` that `relevance` scores highest (the first on a tie); None when none scores
    above 0, since a list that shares nothing with the question is a neighbouring section's ("推理方法"
    for a question about attention variants). Its intro counts twice: it names what the items are
    ("缺点：" against "优点：" for "有哪些缺点")."""
    def score(found: ItemList) -> float:
        return 2 * relevance(found.intro) + relevance(found.context) + relevance("\n".join(found.items))

    best = max(item_lists(text), key=score, default=None)
    return best if best and score(best) > 0 else None


def _names(head: str, lang: str) -> list[str]:
    """Ways an answer in `lang` may name an item: its Latin terms, and in Chinese its Chinese words.
    An English answer translates a Chinese-only item, which no word check can verify: it has none."""
    latin = [t.lower() for t in _LATIN_PHRASE.findall(head) if len(t) >= 2]
    return latin + _CJK_RUN.findall(head) if lang == "zh" else latin


def missing_items(answer: str, found: ItemList, lang: str) -> list[str]:
    """The items of `found` that `answer` (in `lang`) does not name."""
    text = answer.lower()
    missing = []
    for head in found.heads:
        names = _names(head, lang)
        if names and not any(name.lower() in text for name in names):
            missing.append(head)
    return missing
