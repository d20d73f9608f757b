"""Keep stored FAQ pairs in step with the notes index and the shipped curated FAQ file.

Used by ``faq generate`` (before generating) and by ``index`` (after the notes are indexed), which
also loads ``faq/faq.yml`` when it changed, so a fresh clone serves the shipped FAQ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from llm_fallback.answer.prompt import terms
from llm_fallback.faq.review import ImportReport, import_if_changed
from llm_fallback.faq.store import SERVED, FaqChunkRow, FaqPairRow, open_store
from llm_fallback.knowledge.chunk import Chunk
from llm_fallback.knowledge.store import load_index, one_transaction
from llm_fallback.text.grounding import unsupported_numbers


@dataclass(frozen=True)
class SyncReport:
    imported: ImportReport | None
    retired: int
    reattached: int


def evidence(chunk: Chunk) -> str:
    """What a pair may draw on: the chunk, its heading path and its file name."""
    return f"{chunk.heading}\n{chunk.file}\n{chunk.text}"


def reconcile(s: Session, chunks: Sequence[Chunk]) -> tuple[int, int]:
    """Bring stored pairs in line with the current chunks: (retired, reattached).

    Line numbers follow their chunk; a pair whose chunk is gone is retired, except that a curated
    pair moves to the chunk of the same section whose text still has its numbers and shares the
    most words with its answers. A chunk that comes back (notes reverted) brings its pairs back."""
    current = {c.content_hash: c for c in chunks}
    by_section: dict[tuple[str, str], list[Chunk]] = {}
    for c in chunks:
        by_section.setdefault((c.file, c.heading), []).append(c)
    retired = reattached = 0
    for row in s.scalars(select(FaqPairRow)):
        chunk = current.get(row.chunk_hash)
        if chunk is None and not row.retired and row.status in SERVED:
            answers = f"{row.a_zh} {row.a_en}"
            words = terms(answers)
            holding = [c for c in by_section.get((row.file, row.heading), [])
                       if not unsupported_numbers(answers, evidence(c))]
            chunk = max(holding, key=lambda c: len(words & terms(c.text)), default=None)
            if chunk is not None:
                row.chunk_hash = chunk.content_hash
                reattached += 1
        if chunk is None:
            retired += not row.retired
            row.retired = True
            continue
        row.retired = False
        row.line_start, row.line_end = chunk.line_start, chunk.line_end
    s.execute(delete(FaqChunkRow).where(FaqChunkRow.chunk_hash.not_in(list(current))))
    return retired, reattached


def sync(db_url: str, faq_file: Path) -> SyncReport:
    """Import ``faq_file`` if it changed since the last import, then reconcile with the index."""
    imported = import_if_changed(db_url, faq_file)
    stored = load_index(db_url)
    retired = reattached = 0
    if stored is not None:
        with one_transaction(open_store(db_url)) as s:
            retired, reattached = reconcile(s, stored.chunks)
    return SyncReport(imported, retired, reattached)
