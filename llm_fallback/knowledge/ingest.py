"""Read a notes directory and parse each note's Markdown structure into line-numbered blocks.

The parser is line based and forgiving, because the notes are hand-written: ATX headings give the
heading path; ``>`` quote markers (nested ``>>`` too) are stripped from the text but open a new
block when the depth changes; fenced code (also inside quotes) is one block; table rows, list
items and paragraphs are blocks. HTML comments are dropped. Every source line keeps its number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

NOTE_SUFFIXES = (".md", ".markdown", ".txt")

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$|^(#{1,6})$")
_QUOTE = re.compile(r"^[ \t]{0,3}((?:>[ \t]?)+)")
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+")
_TABLE_ROW = re.compile(r"^[ \t]*\|")
_INLINE_MARKUP = re.compile(r"<[^>]+>|\*\*|__|`")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True)
class Note:
    path: str  # relative to the notes directory, with forward slashes
    text: str


@dataclass(frozen=True)
class Block:
    kind: str  # heading | paragraph | list | table | code
    line_start: int  # 1-based, inclusive
    line_end: int
    text: str  # one text line per source line, quote markers removed
    heading_path: tuple[str, ...]


def read_notes(notes_dir: Path, include_readme: bool = False) -> list[Note]:
    """All notes under ``notes_dir`` (recursively), sorted by path; raises if it is not a directory.

    A README describes the directory rather than being a note (its English summary of every topic
    would outrank the notes themselves for English questions), so it is skipped unless asked for.
    """
    if not notes_dir.is_dir():
        raise FileNotFoundError(f"notes directory not found: {notes_dir}")
    notes = []
    for path in sorted(notes_dir.rglob("*")):
        if not include_readme and path.stem.lower() == "readme":
            continue
        if path.is_file() and path.suffix.lower() in NOTE_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="replace")
            notes.append(Note(path.relative_to(notes_dir).as_posix(), text))
    return notes


def clean_heading(raw: str) -> str:
    """Heading text without Markdown/HTML markup: ``<font color=red>检索</font>`` -> ``检索``."""
    return _INLINE_MARKUP.sub("", _LINK.sub(r"\1", raw)).strip()


def _strip_comments(lines: list[str]) -> list[str]:
    """Blank out HTML comments (keeping line numbers)."""
    out = []
    in_comment = False
    for line in lines:
        kept = ""
        rest = line
        while rest:
            if in_comment:
                end = rest.find("-->")
                if end < 0:
                    rest = ""
                else:
                    rest = rest[end + 3:]
                    in_comment = False
            else:
                start = rest.find("<!--")
                if start < 0:
                    kept += rest
                    rest = ""
                else:
                    kept += rest[:start]
                    rest = rest[start + 4:]
                    in_comment = True
        out.append(kept)
    return out


class _Builder:
    """Accumulates lines into blocks; a block ends on a blank line or a change of kind or depth."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.path: list[tuple[int, str]] = []
        self.kind = ""
        self.depth = 0
        self.start = 0
        self.lines: list[str] = []

    def flush(self) -> None:
        if self.lines and any(line.strip() for line in self.lines):
            heading_path = tuple(title for _, title in self.path if title)
            end = self.start + len(self.lines) - 1
            self.blocks.append(Block(self.kind, self.start, end, "\n".join(self.lines), heading_path))
        self.lines = []
        self.kind = ""

    def add(self, kind: str, depth: int, number: int, content: str) -> None:
        if self.lines and (kind != self.kind or depth != self.depth):
            self.flush()
        if not self.lines:
            self.kind, self.depth, self.start = kind, depth, number
        self.lines.append(content)

    def heading(self, level: int, title: str, number: int, raw: str) -> None:
        self.flush()
        self.path = [(lvl, t) for lvl, t in self.path if lvl < level] + [(level, title)]
        self.add("heading", 0, number, raw)
        self.flush()


def parse_blocks(text: str) -> list[Block]:
    """Split one note into blocks with 1-based line ranges and their heading path."""
    builder = _Builder()
    fence = ""
    for number, line in enumerate(_strip_comments(text.splitlines()), start=1):
        quote = _QUOTE.match(line)
        depth = quote.group(1).count(">") if quote else 0
        content = line[quote.end():] if quote else line
        if fence:
            builder.lines.append(content)
            if content.strip().startswith(fence):
                fence = ""
                builder.flush()
            continue
        opening = _FENCE.match(content)
        if opening:
            builder.flush()
            fence = opening.group(1)
            builder.add("code", depth, number, content)
            continue
        heading = _HEADING.match(line)
        if heading:
            level = len(heading.group(1) or heading.group(3))
            builder.heading(level, clean_heading(heading.group(2) or ""), number, line.strip())
        elif not content.strip():
            builder.flush()
        elif _TABLE_ROW.match(content):
            builder.add("table", depth, number, content)
        elif _LIST_ITEM.match(content):
            builder.flush()  # every item is its own block, so chunks can end between items
            builder.add("list", depth, number, content)
        elif builder.kind == "list" and builder.depth == depth:
            builder.lines.append(content)  # continuation line of the current item
        else:
            builder.add("paragraph", depth, number, content)
    builder.flush()
    return builder.blocks
