"""FAQ tables in the knowledge store: generated pairs with their review status, and per-chunk progress.

A pair is one question/answer in Chinese and in English, tied to the chunk it was generated from.
Its key is a hash of that chunk and both questions, so the same model on the same notes produces
the same keys, and regenerating a chunk finds (and keeps) the pairs a person already curated.
Question vectors (Chinese and English) are stored with the pair: the matcher loads them instead
of embedding every question at start-up. A pair may also carry paraphrases of its question (other
ways people ask it, in either language, see faq_paraphrase.py) with their vectors: the matcher
compares a question with all of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sqlalchemy import Boolean, Engine, Integer, LargeBinary, String, Text, inspect, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, Session, mapped_column

from llm_fallback.knowledge.embed import DIM, MODEL_NAME, get_embedder
from llm_fallback.knowledge.store import Base, StoreError, disposing, make_engine, transaction, unavailable

Status = Literal["proposed", "approved", "rejected", "edited"]
STATUSES: tuple[Status, ...] = ("proposed", "approved", "rejected", "edited")
CURATED: frozenset[str] = frozenset({"approved", "edited", "rejected"})  # a person decided these
SERVED: frozenset[str] = frozenset({"approved", "edited"})


class FaqPairRow(Base):
    __tablename__ = "faq_pairs"
    key: Mapped[str] = mapped_column(String(16), primary_key=True)
    chunk_hash: Mapped[str] = mapped_column(String(64), index=True)
    file: Mapped[str] = mapped_column(String(512))
    heading: Mapped[str] = mapped_column(Text)
    line_start: Mapped[int] = mapped_column(Integer)
    line_end: Mapped[int] = mapped_column(Integer)
    ordinal: Mapped[int] = mapped_column(Integer)  # position within its chunk's pairs
    q_zh: Mapped[str] = mapped_column(Text)
    a_zh: Mapped[str] = mapped_column(Text)
    q_en: Mapped[str] = mapped_column(Text)
    a_en: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")  # why rejected (check or reviewer)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)  # its source chunk is gone
    vectors: Mapped[bytes] = mapped_column(LargeBinary)  # 2 x DIM float32: q_zh, q_en
    vector_model: Mapped[str] = mapped_column(String(100))
    paraphrases: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of strings
    paraphrase_vectors: Mapped[bytes] = mapped_column(LargeBinary, default=b"")  # n x DIM float32


class FaqChunkRow(Base):
    """A chunk the generator has finished with (resume and incremental runs skip these)."""

    __tablename__ = "faq_chunks"
    chunk_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    file: Mapped[str] = mapped_column(String(512))
    heading: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(32))  # generated | skipped:<why> | failed:<why>
    pairs: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(200))


# Same shape as knowledge/store.MetaRow on purpose (duplicates: justified): its own key-value
# table, so the FAQ's metadata never mixes with the index's in a shared database.
class FaqMetaRow(Base):
    __tablename__ = "faq_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class Pair:
    key: str
    chunk_hash: str
    file: str
    heading: str
    line_start: int
    line_end: int
    ordinal: int
    q_zh: str
    a_zh: str
    q_en: str
    a_en: str
    status: str
    reason: str = ""
    retired: bool = False
    paraphrases: tuple[str, ...] = ()

    def question(self, lang: str) -> str:
        return self.q_zh if lang == "zh" else self.q_en

    def answer(self, lang: str) -> str:
        return self.a_zh if lang == "zh" else self.a_en

    def to_json(self) -> dict:
        return {"key": self.key, "status": self.status, "reason": self.reason, "retired": self.retired,
                "source": {"file": self.file, "heading": self.heading,
                           "lines": f"{self.line_start}-{self.line_end}", "chunk": self.chunk_hash},
                "zh": {"q": self.q_zh, "a": self.a_zh}, "en": {"q": self.q_en, "a": self.a_en},
                "paraphrases": list(self.paraphrases)}


def pair_key(chunk_hash: str, q_zh: str, q_en: str) -> str:
    return hashlib.sha256(f"{chunk_hash}\n{q_zh}\n{q_en}".encode()).hexdigest()[:10]


def question_vectors(pairs: Iterable[tuple[str, str]]) -> np.ndarray:
    """(n, 2, DIM) normalised vectors of (q_zh, q_en) per pair."""
    texts = [t for pair in pairs for t in pair]
    if not texts:
        return np.zeros((0, 2, DIM), dtype=np.float32)
    return get_embedder().encode(texts).reshape(-1, 2, DIM)


def to_pair(row: FaqPairRow) -> Pair:
    return Pair(row.key, row.chunk_hash, row.file, row.heading, row.line_start, row.line_end, row.ordinal,
                row.q_zh, row.a_zh, row.q_en, row.a_en, row.status, row.reason or "", bool(row.retired),
                tuple(json.loads(row.paraphrases or "[]")))


def row_vectors(row: FaqPairRow) -> np.ndarray:
    return np.frombuffer(row.vectors, dtype=np.float32).reshape(2, DIM)


def row_paraphrase_vectors(row: FaqPairRow) -> np.ndarray:
    return np.frombuffer(row.paraphrase_vectors or b"", dtype=np.float32).reshape(-1, DIM)


def set_paraphrases(row: FaqPairRow, paraphrases: Iterable[str]) -> None:
    """Store the paraphrases with their vectors (embedded here: they are few per pair)."""
    texts = list(dict.fromkeys(p.strip() for p in paraphrases if p.strip()))
    row.paraphrases = json.dumps(texts, ensure_ascii=False)
    vectors = get_embedder().encode(texts) if texts else np.zeros((0, DIM), np.float32)
    row.paraphrase_vectors = vectors.astype(np.float32).tobytes()


def new_row(pair: Pair, vectors: np.ndarray) -> FaqPairRow:
    row = FaqPairRow(key=pair.key, chunk_hash=pair.chunk_hash, file=pair.file, heading=pair.heading,
                     line_start=pair.line_start, line_end=pair.line_end, ordinal=pair.ordinal,
                     q_zh=pair.q_zh, a_zh=pair.a_zh, q_en=pair.q_en, a_en=pair.a_en, status=pair.status,
                     reason=pair.reason, retired=pair.retired,
                     vectors=vectors.astype(np.float32).tobytes(), vector_model=MODEL_NAME)
    set_paraphrases(row, pair.paraphrases)
    return row


def open_store(db_url: str) -> Engine:
    """Engine with the FAQ tables created (they live beside the notes index)."""
    engine = make_engine(db_url)
    try:
        Base.metadata.create_all(engine)
        _add_new_columns(engine)
    except OperationalError as exc:
        raise unavailable(engine, exc) from exc
    return engine


def _add_new_columns(engine: Engine) -> None:
    """Columns added after a store was first created (create_all only makes missing tables)."""
    table = FaqPairRow.__table__
    present = {c["name"] for c in inspect(engine).get_columns(table.name)}
    with engine.begin() as conn:
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(engine.dialect)
                conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
                if column.name == "paraphrases":
                    conn.execute(text(f"UPDATE {table.name} SET paraphrases = '[]'"))


def has_faq(engine: Engine) -> bool:
    try:
        return inspect(engine).has_table(FaqPairRow.__tablename__)
    except OperationalError as exc:
        raise unavailable(engine, exc) from exc


def ordered(query):
    """Reading order of the notes: file, then position in the file, then position in the chunk."""
    return query.order_by(FaqPairRow.file, FaqPairRow.line_start, FaqPairRow.ordinal, FaqPairRow.key)


def list_pairs(db_url: str, status: str | None = None, include_retired: bool = False) -> list[Pair]:
    with disposing(make_engine(db_url)) as engine:
        if not has_faq(engine):
            return []
        with transaction(engine) as s:
            query = select(FaqPairRow)
            if status:
                query = query.where(FaqPairRow.status == status)
            if not include_retired:
                query = query.where(FaqPairRow.retired.is_(False))
            return [to_pair(row) for row in s.scalars(ordered(query))]


def find_row(s: Session, key: str) -> FaqPairRow:
    """The pair whose key starts with ``key`` (like a short git hash). Raises StoreError."""
    key = key.strip().lower()
    if len(key) < 4:
        raise StoreError(f"FAQ key {key!r} is too short: give at least 4 characters")
    rows = list(s.scalars(select(FaqPairRow).where(FaqPairRow.key.startswith(key, autoescape=True))))
    if not rows:
        raise StoreError(f"no FAQ pair with key {key!r} (see `python -m llm_fallback faq list`)")
    if len(rows) > 1:
        raise StoreError(f"FAQ key {key!r} is ambiguous: {', '.join(r.key for r in rows)}")
    return rows[0]


def read_meta(s: Session) -> dict[str, str]:
    return {row.key: row.value for row in s.scalars(select(FaqMetaRow))}


def write_meta(s: Session, key: str, value: str) -> None:
    row = s.get(FaqMetaRow, key) or FaqMetaRow(key=key)
    row.value = value
    s.add(row)
