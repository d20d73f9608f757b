"""Retrieval benchmark (prints figures; not part of the tests).

    python bench/retrieval.py [--dev ../shared/eval/dev.yml] [--scale 100000] [--pg URL]

1. Quality on the dev set: hit@1/3/5 and MRR for BM25 alone, dense alone and the fusion, the
   relevance threshold's wrong-side counts, and query latency, on an index of notes/.
2. Scale: a synthetic corpus (deterministic seed) of --scale chunks: build time, memory and query
   latency of the in-process index; then the same vectors in PostgreSQL with a pgvector HNSW index
   (skipped with a note when the extension is not installed: Debian's postgresql-15-pgvector).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm_fallback.calibration import evidence_rank  # noqa: E402 - after the path set-up above
from llm_fallback.chunk import Chunk  # noqa: E402
from llm_fallback.config import load_settings  # noqa: E402
from llm_fallback.embed import DIM, get_embedder  # noqa: E402
from llm_fallback.retrieve import Retriever  # noqa: E402
from llm_fallback.store import build_index, load_index  # noqa: E402
from llm_fallback.tokenize import tokenize  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _ms(seconds: list[float]) -> str:
    median, p95 = statistics.median(seconds) * 1000, np.percentile(seconds, 95) * 1000
    return f"median {median:.1f} ms, p95 {p95:.1f} ms"


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def dev_quality(dev_path: Path) -> None:
    items = yaml.safe_load(dev_path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/kb.db"
        report = build_index(ROOT / "notes", url, progress=False)
        stored = load_index(url)
    assert stored is not None
    print(f"index of notes/: {report.chunks} chunks from {report.documents} notes in {report.seconds:.1f} s")
    retriever = Retriever(stored.chunks, stored.vectors, userdict=load_settings().jieba_userdict)
    texts = [c.text for c in retriever.chunks]
    notes = [item for item in items if item["kind"] == "notes"]
    ranks: dict[str, list[int | None]] = {"bm25": [], "dense": [], "fusion": []}
    for item in notes:
        for name, scores in (("bm25", retriever.bm25_scores(item["q"])),
                             ("dense", retriever.dense_scores(item["q"]))):
            order = np.argsort(-scores, kind="stable")[:5]
            ranks[name].append(evidence_rank([texts[i] for i in order], item["evidence"]))
        hits = retriever.search(item["q"], k=5)
        ranks["fusion"].append(evidence_rank([h.text for h in hits], item["evidence"]))
    print(f"\ndev set: {len(notes)} notes questions")
    print(f"{'':8} {'hit@1':>6} {'hit@3':>6} {'hit@5':>6} {'MRR':>6}")
    for name, values in ranks.items():
        hit = [np.mean([r is not None and r <= k for r in values]) for k in (1, 3, 5)]
        mrr = np.mean([1 / r if r else 0.0 for r in values])
        print(f"{name:8} {hit[0]:6.2f} {hit[1]:6.2f} {hit[2]:6.2f} {mrr:6.3f}")
    missed = [item["id"] for item, r in zip(notes, ranks["fusion"], strict=True) if r is None]
    print(f"fusion misses: {missed or 'none'}")

    threshold = retriever.params.threshold
    for kind in ("notes", "oos"):
        group = [item for item in items if item["kind"] == kind]
        tops = [(hits[0].relevance if hits else 0.0) for hits in (retriever.search(i["q"]) for i in group)]
        wrong = sum((t < threshold) if kind == "notes" else (t >= threshold) for t in tops)
        print(f"relevance: {kind:5} {wrong}/{len(group)} on the wrong side of {threshold:.3f}"
              f"  (top relevances {', '.join(f'{t:.2f}' for t in tops)})")

    timings = []
    for _ in range(5):
        for item in items:
            started = time.perf_counter()
            retriever.search(item["q"])
            timings.append(time.perf_counter() - started)
    print(f"query latency on the notes ({len(timings)} queries): {_ms(timings)}")


def synthetic_corpus(size: int, seed: int = 7) -> tuple[list[Chunk], np.ndarray]:
    """Chunks made of the notes' own vocabulary (Zipf-like draws), with random unit vectors.

    Embedding 100k real chunks would take most of an hour on 2 cores and measures the embedder,
    not the index; random vectors exercise the same matrix shapes and the same search code.
    """
    rng = np.random.default_rng(seed)
    vocabulary = sorted({t for path in sorted((ROOT / "notes").glob("*.md"))
                         for t in tokenize(path.read_text(encoding="utf-8"))})
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    weights /= weights.sum()
    words = np.array(vocabulary)
    chunks = []
    for i in range(size):
        text = " ".join(words[rng.choice(len(words), size=int(rng.integers(40, 120)), p=weights)])
        path = f"synthetic/{i // 100:04d}.md"
        chunks.append(Chunk(path, (f"section {i % 100}",), 1, 20, text, f"{i:064x}"))
    vectors = rng.standard_normal((size, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return chunks, vectors


QUERIES = [
    "QLoRA 是怎么节省显存的？", "What is top_p?", "vLLM 部署 Qwen2", "混合检索 RRF 合并",
    "learning rate warmup", "梯度下降 学习率", "LoRA alpha r 设置", "Ollama CPU 推理", "bf16 fp16 区别",
    "向量数据库 pgvector",
]


def scale_in_process(size: int) -> np.ndarray:
    started = time.perf_counter()
    chunks, vectors = synthetic_corpus(size)
    print(f"\nsynthetic corpus: {size} chunks generated in {time.perf_counter() - started:.1f} s")
    before = _rss_mb()
    started = time.perf_counter()
    retriever = Retriever(chunks, vectors, userdict=load_settings().jieba_userdict)
    build = time.perf_counter() - started
    bm25_mb = (retriever.bm25.weights.data.nbytes + retriever.bm25.weights.indices.nbytes) / 2**20
    print(f"in-process index build (tokenize + BM25 matrix): {build:.1f} s; RSS +{_rss_mb() - before:.0f} MB "
          f"(BM25 sparse {bm25_mb:.0f} MB, dense {vectors.nbytes / 2**20:.0f} MB)")
    retriever.search(QUERIES[0])
    timings = []
    for _ in range(3):
        for query in QUERIES:
            started = time.perf_counter()
            retriever.search(query)
            timings.append(time.perf_counter() - started)
    print(f"in-process query latency at {size} chunks: {_ms(timings)}")
    return vectors


def scale_pgvector(vectors: np.ndarray, url: str) -> None:
    import psycopg

    schema = "bench_retrieval"
    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        print(f"\npgvector: PostgreSQL unreachable at {url} ({exc}); skipped")
        return
    with conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            print("\npgvector: the 'vector' extension is not available on this server "
                  f"({type(exc).__name__}); install Debian's postgresql-15-pgvector to run this part. "
                  "Skipped.")
            return
        from pgvector.psycopg import register_vector

        register_vector(conn)
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.vec (id int PRIMARY KEY, embedding vector({DIM}))")
        started = time.perf_counter()
        with conn.cursor().copy(f"COPY {schema}.vec (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, row in enumerate(vectors):
                copy.write_row((i, row))
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(f"CREATE INDEX ON {schema}.vec USING hnsw (embedding vector_cosine_ops)")
        print(f"\npgvector: {len(vectors)} vectors loaded in {loaded:.1f} s, "
              f"HNSW index built in {time.perf_counter() - started:.1f} s")
        embedder = get_embedder()
        timings = []
        for query in QUERIES * 3:
            started = time.perf_counter()
            vector = embedder.encode_query(query)
            sql = f"SELECT id FROM {schema}.vec ORDER BY embedding <=> %s LIMIT 50"
            conn.execute(sql, (vector,)).fetchall()
            timings.append(time.perf_counter() - started)
        print(f"pgvector HNSW query latency (embed + top-50): {_ms(timings)}")
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", default=str(ROOT.parent / "shared" / "eval" / "dev.yml"))
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--pg", default=PG_URL, help="PostgreSQL URL (psycopg form) for the pgvector part")
    args = parser.parse_args()
    dev_quality(Path(args.dev))
    vectors = scale_in_process(args.scale)
    scale_pgvector(vectors, args.pg)


if __name__ == "__main__":
    main()
