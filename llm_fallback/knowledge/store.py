"""The knowledge store (SQLAlchemy 2.x): documents, chunks, vectors and index metadata.

Vectors are float32 bytes keyed by the chunk's content hash, so SQLite and PostgreSQL share one
schema and an unchanged chunk is never embedded twice. A chunk's row holds its own vector, then one
per sentence (text.sentences): retrieval scores a chunk by its closest sentence too, which a long
chunk's single vector blurs. A build writes everything in ONE transaction after the slow work
(chunking, embedding) is done: a crash leaves the previous index as it was, and readers never see
half an index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import (
    JSON,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    delete,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from tqdm import tqdm

from llm_fallback.knowledge.chunk import MAX_CHARS, MIN_CHARS, Chunk, chunk_note
from llm_fallback.knowledge.embed import DIM, MODEL_NAME, get_embedder
from llm_fallback.knowledge.ingest import Note, read_notes
from llm_fallback.text.redact import redact
from llm_fallback.text.sentences import sentences

log = logging.getLogger(__name__)

# What a vector row holds (VectorRow.model): rows of another layout or model are embedded again.
VECTOR_LAYOUT = f"{MODEL_NAME}+sentences"


class StoreError(RuntimeError):
    """The knowledge store cannot be reached or used; the message is safe to show (no password)."""


class Base(DeclarativeBase):
    pass


class DocumentRow(Base):
    __tablename__ = "kb_documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(512), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))


class ChunkRow(Base):
    __tablename__ = "kb_chunks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    heading_path: Mapped[list[str]] = mapped_column(JSON)
    line_start: Mapped[int] = mapped_column(Integer)
    line_end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)


class VectorRow(Base):
    __tablename__ = "kb_vectors"
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class MetaRow(Base):
    __tablename__ = "kb_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class IndexReport:
    documents: int
    chunks: int
    embedded: int
    reused: int
    removed: int  # documents that were in the previous index and are gone
    seconds: float
    generation: int


@dataclass(frozen=True)
class StoredIndex:
    chunks: list[Chunk]
    vectors: np.ndarray  # (len(chunks), DIM) float32, row i belongs to chunks[i]
    sentence_vectors: list[np.ndarray]  # per chunk, (its sentences, DIM) float32
    generation: int


def safe_url(db_url: str) -> str:
    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def make_engine(db_url: str) -> Engine:
    """Engine for ``db_url``; a SQLite file's directory is created. Raises StoreError."""
    try:
        url = make_url(db_url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL: {safe_url(db_url)}") from exc
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        return create_engine(url)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot use database URL {safe_url(db_url)}: {exc}") from exc


def unavailable(engine: Engine, exc: OperationalError) -> StoreError:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    return StoreError(f"knowledge store {safe_url(str(engine.url))} unavailable: {reason}")


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One transaction; connection failures become a StoreError with no secret in it."""
    try:
        with Session(engine) as session, session.begin():
            yield session
    except OperationalError as exc:
        raise unavailable(engine, exc) from exc


@contextmanager
def disposing(engine: Engine) -> Iterator[Engine]:
    """An engine opened for one task, disposed (its pool closed) when the task ends, even on error.
    The one session helper of the package, with `transaction` and `one_transaction`."""
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def one_transaction(engine: Engine) -> Iterator[Session]:
    """One transaction on an engine opened for it alone, disposed afterwards."""
    with disposing(engine), transaction(engine) as session:
        yield session


def _read_meta(session: Session) -> dict[str, str]:
    return {row.key: row.value for row in session.scalars(select(MetaRow))}


def _write_meta(session: Session, meta: dict[str, str]) -> None:
    session.execute(delete(MetaRow))
    session.add_all(MetaRow(key=key, value=value) for key, value in meta.items())


def _redacted_documents(notes: list[Note]) -> list[tuple[str, str, list[Chunk]]]:
    """(path, redacted text, chunks) per note. Redaction comes before anything else touches the
    text: nothing unredacted is chunked, embedded or stored."""
    documents: list[tuple[str, str, list[Chunk]]] = []
    for note in notes:
        result = redact(note.text)
        for finding in result.findings:
            log.debug("redacted kind=%s file=%s line=%d", finding.kind, note.path, finding.line)
        if result.findings:
            log.info("redacted file=%s findings=%d", note.path, len(result.findings))
        documents.append((note.path, result.text, chunk_note(note.path, result.text)))
    return documents


Document = tuple[str, str, list[Chunk]]  # path, redacted text, chunks


def _write_documents(session: Session, documents: list[Document], new_paths: set[str]) -> None:
    """Replace every chunk row, and the document rows of notes that are gone."""
    session.execute(delete(ChunkRow))
    session.execute(delete(DocumentRow).where(DocumentRow.path.not_in(new_paths)))
    rows = {row.path: row for row in session.scalars(select(DocumentRow))}
    for path, text, chunks in documents:
        row = rows.get(path) or DocumentRow(path=path)
        row.sha256 = _sha256(text)
        session.add(row)
        session.flush()
        session.add_all(
            ChunkRow(document_id=row.id, ordinal=i, heading_path=list(c.heading_path),
                     line_start=c.line_start, line_end=c.line_end, text=c.text,
                     content_hash=c.content_hash)
            for i, c in enumerate(chunks)
        )


def build_index(notes_dir: Path, db_url: str, progress: bool = True) -> IndexReport:
    """(Re)index the notes in ``notes_dir`` into the store at ``db_url``, incrementally."""
    started = time.perf_counter()
    notes = read_notes(Path(notes_dir))
    engine = make_engine(db_url)
    try:
        Base.metadata.create_all(engine)
    except OperationalError as exc:
        raise unavailable(engine, exc) from exc

    documents = _redacted_documents(notes)

    with transaction(engine) as session:
        known = set(session.scalars(select(VectorRow.content_hash).where(VectorRow.model == VECTOR_LAYOUT)))
        previous = _read_meta(session)
    todo: dict[str, Chunk] = {}
    chunk_count = 0
    for _, _, chunks in documents:
        chunk_count += len(chunks)
        for chunk in chunks:
            if chunk.content_hash not in known:
                todo[chunk.content_hash] = chunk
    new_vectors = _embed(todo, progress)

    with transaction(engine) as session:
        old_paths = set(session.scalars(select(DocumentRow.path)))
        new_paths = {path for path, _, _ in documents}
        _write_documents(session, documents, new_paths)
        # Rows of another model or layout share the content hashes about to be written again.
        session.execute(delete(VectorRow).where(VectorRow.model != VECTOR_LAYOUT))
        session.add_all(
            VectorRow(content_hash=h, model=VECTOR_LAYOUT, data=v.astype(np.float32).tobytes())
            for h, v in new_vectors.items()
        )
        session.flush()
        # Vectors no chunk refers to any more (edited or removed text).
        used = select(ChunkRow.content_hash)
        session.execute(delete(VectorRow).where(VectorRow.content_hash.not_in(used)))
        generation = int(previous.get("generation", "0")) + 1
        _write_meta(session, {
            "generation": str(generation),
            "model": VECTOR_LAYOUT,
            "chunking": json.dumps({"min_chars": MIN_CHARS, "max_chars": MAX_CHARS}),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "documents": str(len(documents)),
            "chunks": str(chunk_count),
        })
    report = IndexReport(
        documents=len(documents), chunks=chunk_count, embedded=len(new_vectors),
        reused=chunk_count - sum(1 for _, _, cs in documents for c in cs if c.content_hash in new_vectors),
        removed=len(old_paths - new_paths), seconds=round(time.perf_counter() - started, 2),
        generation=generation,
    )
    log.info("index built generation=%d documents=%d chunks=%d embedded=%d reused=%d removed=%d seconds=%.2f",
             report.generation, report.documents, report.chunks, report.embedded, report.reused,
             report.removed, report.seconds)
    engine.dispose()
    return report


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _embed(todo: dict[str, Chunk], progress: bool) -> dict[str, np.ndarray]:
    """Per content hash: the chunk's vector, then its sentences' (rows of one array)."""
    if not todo:
        return {}
    texts: list[str] = []
    spans: dict[str, tuple[int, int]] = {}
    for content_hash, chunk in todo.items():
        start = len(texts)
        texts += [chunk.indexed_text, *sentences(chunk.text)]
        spans[content_hash] = (start, len(texts))
    with tqdm(total=len(texts), desc="embedding", unit="text", disable=not progress) as bar:
        vectors = get_embedder().encode(texts, progress=bar.update)
    return {h: vectors[start:end] for h, (start, end) in spans.items()}


NOT_BUILT = "the notes index has not been built yet: run `python -m llm_fallback index`"


class IndexNotBuiltError(RuntimeError):
    """The knowledge store holds no index yet."""

    def __init__(self, message: str = NOT_BUILT) -> None:
        super().__init__(message)


def require_index(db_url: str) -> StoredIndex:
    """The current index; raises IndexNotBuiltError when there is none."""
    stored = load_index(db_url)
    if stored is None:
        raise IndexNotBuiltError()
    return stored


def load_index(db_url: str) -> StoredIndex | None:
    """The current index, or None when the store holds none (no tables or never built)."""
    engine = make_engine(db_url)
    try:
        if not inspect(engine).has_table(MetaRow.__tablename__):
            return None
        with transaction(engine) as session:
            meta = _read_meta(session)
            if "generation" not in meta:
                return None
            rows = session.execute(
                select(DocumentRow.path, ChunkRow, VectorRow.data)
                .join(ChunkRow, ChunkRow.document_id == DocumentRow.id)
                .join(VectorRow, VectorRow.content_hash == ChunkRow.content_hash)
                .order_by(DocumentRow.path, ChunkRow.ordinal)
            ).all()
            chunks = [
                Chunk(path, tuple(c.heading_path), c.line_start, c.line_end, c.text, c.content_hash)
                for path, c, _ in rows
            ]
    except OperationalError as exc:
        raise unavailable(engine, exc) from exc
    finally:
        engine.dispose()
    stacks = [np.frombuffer(data, dtype=np.float32).reshape(-1, DIM) for _, _, data in rows]
    vectors = np.array([stack[0] for stack in stacks], dtype=np.float32).reshape(len(rows), DIM)
    return StoredIndex(chunks, vectors, [stack[1:].copy() for stack in stacks], int(meta["generation"]))
