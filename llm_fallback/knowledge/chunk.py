"""Cut parsed notes into retrieval chunks that follow the notes' structure.

A chunk never crosses into another parent section, keeps a heading with the text under it, and is
about ``min_chars``..``max_chars`` long: small sibling sections are merged, long blocks are cut at
sentence boundaries (spaCy blank ``zh`` with the jieba segmenter and a sentencizer, which also ends
English sentences), tables only between rows, and code blocks are never cut even when longer.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from llm_fallback.knowledge.ingest import Block, parse_blocks

if TYPE_CHECKING:
    from spacy.language import Language

MIN_CHARS = 300
MAX_CHARS = 600
# Joins the titles of the sibling sections one chunk spans (see _merged_heading).
TITLE_SEP = " / "
# Where an over-long sentence may still be cut: after clause punctuation or a space.
_SOFT_BREAK = re.compile(r"(?<=[，,；;：:、])|(?<=\s)")


@dataclass(frozen=True)
class Chunk:
    file: str
    heading_path: tuple[str, ...]
    line_start: int
    line_end: int
    text: str
    content_hash: str

    @property
    def heading(self) -> str:
        return " > ".join(self.heading_path)

    @property
    def indexed_text(self) -> str:
        """What BM25 and the embedder see: the heading path gives a terse chunk its topic."""
        return f"{self.heading}\n{self.text}" if self.heading_path else self.text


@dataclass(frozen=True)
class _Piece:
    """An unsplittable span [start, end) of one block's text."""

    block: int
    start: int
    end: int
    line_start: int
    line_end: int
    section: int

    @property
    def size(self) -> int:
        return self.end - self.start


@cache
def _sentencizer() -> Language:
    import spacy  # loaded on first use: it takes seconds and only long blocks need it

    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    nlp.add_pipe("sentencizer")
    return nlp


def _sentence_spans(text: str, max_chars: int) -> list[tuple[int, int]]:
    spans = []
    for sent in _sentencizer()(text).sents:
        start, end = sent.start_char, sent.end_char
        while end - start > max_chars:  # a run-on sentence: cut at the last soft break that fits
            cuts = [m.start() for m in _SOFT_BREAK.finditer(text, start + 1, start + max_chars)]
            cut = cuts[-1] if cuts else start + max_chars
            spans.append((start, cut))
            start = cut
        spans.append((start, end))
    return spans


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    offset = 0
    for line in text.split("\n"):
        spans.append((offset, offset + len(line)))
        offset += len(line) + 1
    return spans


def _pieces(blocks: list[Block], max_chars: int) -> list[_Piece]:
    pieces = []
    section = 0
    for index, block in enumerate(blocks):
        if block.kind == "heading":
            section += 1
        if block.kind == "code" or len(block.text) <= max_chars:
            spans = [(0, len(block.text))]
        elif block.kind == "table":
            spans = _line_spans(block.text)  # rows stay whole
        else:
            spans = _sentence_spans(block.text, max_chars)
        for start, end in spans:
            first = block.line_start + block.text.count("\n", 0, start)
            last = block.line_start + block.text.count("\n", 0, max(start, end - 1))
            pieces.append(_Piece(index, start, end, first, last, section))
    return pieces


def _introduces(piece: _Piece, blocks: list[Block]) -> bool:
    """Whether `piece` is a heading or a paragraph's last sentence that ends in a colon."""
    block = blocks[piece.block]
    if block.kind == "heading":
        return True
    return (block.kind == "paragraph" and piece.end == len(block.text)
            and block.text.rstrip().endswith((":", "：")))


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    prefix = paths[0]
    for path in paths[1:]:
        n = 0
        while n < min(len(prefix), len(path)) and prefix[n] == path[n]:
            n += 1
        prefix = prefix[:n]
    return prefix


def _merged_heading(pieces: list[_Piece], blocks: list[Block]) -> tuple[str, ...]:
    """The heading path of a chunk made of `pieces`.

    Sibling sections merged into one chunk are named by their common parent when it has text of its
    own ("学习率设置" over "人工调整" and "策略调整学习率"). A parent that is only a heading says
    nothing of them ("?kvCache 在剪枝中的应用" over its unrelated child "数据湖的介绍"), nor does the
    first of several top-level sections: then the chunk is named by the sections that have text in it."""
    paths = [blocks[p.block].heading_path for p in pieces]
    prefix = _common_prefix(paths)
    parent_has_text = any(b.heading_path == prefix and b.kind != "heading" for b in blocks)
    if paths[0] == prefix or (prefix and parent_has_text):
        return prefix
    with_text = (blocks[p.block].heading_path for p in pieces if blocks[p.block].kind != "heading")
    titles = dict.fromkeys(path[len(prefix)] for path in with_text if len(path) > len(prefix))
    return (*prefix, TITLE_SEP.join(titles)) if titles else paths[0]


def _make_chunk(file: str, blocks: list[Block], pieces: list[_Piece]) -> Chunk:
    parts: list[str] = []
    previous: _Piece | None = None
    for piece in pieces:
        fragment = blocks[piece.block].text[piece.start:piece.end]
        if previous and previous.block == piece.block:
            # consecutive sentences of one block: keep the original text between them
            parts[-1] += blocks[piece.block].text[previous.end:piece.start] + fragment
        else:
            parts.append(fragment)
        previous = piece
    text = "\n".join(part.strip("\n") for part in parts).strip()
    heading_path = _merged_heading(pieces, blocks)
    indexed = f"{' > '.join(heading_path)}\n{text}"
    digest = hashlib.sha256(indexed.encode("utf-8")).hexdigest()
    return Chunk(file, heading_path, pieces[0].line_start, pieces[-1].line_end, text, digest)


def chunk_note(file: str, text: str, min_chars: int = MIN_CHARS, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Chunks of one (already redacted) note, in reading order."""
    blocks = parse_blocks(text)
    if not blocks:
        return []
    groups: list[list[_Piece]] = [[]]
    size = 0

    def close() -> None:
        nonlocal size
        # a heading is never left at the end of a chunk, nor a paragraph that introduces what follows
        # ("目前主要有几类：" before a list): each moves on with what it introduces
        trailing: list[_Piece] = []
        while groups[-1] and _introduces(groups[-1][-1], blocks):
            trailing.insert(0, groups[-1].pop())
        if groups[-1]:
            groups.append(trailing)
            size = sum(p.size for p in trailing)
        else:
            groups[-1] = trailing

    pieces = _pieces(blocks, max_chars)
    # what is left of each piece's section from that piece on
    remaining = [0] * len(pieces)
    for i in range(len(pieces) - 1, -1, -1):
        same = i + 1 < len(pieces) and pieces[i + 1].section == pieces[i].section
        remaining[i] = pieces[i].size + (remaining[i + 1] if same else 0)
    for i, piece in enumerate(pieces):
        current = groups[-1]
        if current and piece.section != pieces[i - 1].section:
            first_path = blocks[current[0].block].heading_path
            new_path = blocks[piece.block].heading_path
            same_parent = new_path[: len(first_path) - 1] == first_path[:-1]
            if size >= min_chars or not same_parent or size + remaining[i] > max_chars:
                close()
        elif current and size + piece.size > max_chars:
            # A short tail of the section stays with it (up to a quarter over max) rather than
            # becoming a scrap chunk that has lost its context.
            short_tail = remaining[i] <= min_chars // 2 and size + remaining[i] <= max_chars * 5 // 4
            if not short_tail:
                close()
        groups[-1].append(piece)
        size += piece.size
    return [_make_chunk(file, blocks, group) for group in groups if group]
