"""Retrieval benchmark (prints figures; not part of the tests).

    python -m bench.retrieval [--dev ../shared/eval/dev.yml] [--scale 100000 | 0] [--pg URL]
    python -m bench.retrieval --dev tests/e2e_questions/heldout.yml --scale 0

1. Quality on the dev set (or a file of tests/e2e_questions): hit@1/3/5 and MRR for BM25 alone,
   dense alone and the search (fusion, ordered by the relevance model), the relevance threshold's
   wrong-side counts, and query latency, on an index of notes/.
2. Scale: a synthetic corpus (deterministic seed) of --scale chunks: build time, memory and query
   latency of the in-process index; then the same vectors in PostgreSQL with a pgvector HNSW index:
   load and build time, query latency and recall@10 against exact search. The server at --pg is used
   when it has the `vector` extension; otherwise a throwaway PostgreSQL 16 + pgvector from the
   pgserver wheel (PyPI), in a temporary directory on a Unix socket, deleted afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from llm_fallback.config import load_settings  # noqa: E402
from llm_fallback.knowledge.calibrate import evidence_rank  # noqa: E402 - after the path set-up above
from llm_fallback.knowledge.chunk import Chunk  # noqa: E402
from llm_fallback.knowledge.embed import DIM, get_embedder  # noqa: E402
from llm_fallback.knowledge.retrieve import Retriever  # noqa: E402
from llm_fallback.knowledge.store import build_index, load_index  # noqa: E402
from llm_fallback.text.tokenize import tokenize  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _ms(seconds: list[float]) -> str:
    median, p95 = statistics.median(seconds) * 1000, percentile(seconds, 0.95) * 1000
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
    retriever = Retriever(stored.chunks, stored.vectors, userdict=load_settings().jieba_userdict,
                          sentence_vectors=stored.sentence_vectors)
    texts = [c.text for c in retriever.chunks]
    # Questions with evidence: the dev set's notes kind, every notes kind of tests/e2e_questions.
    notes = [item for item in items if item.get("evidence")]
    ranks: dict[str, list[int | None]] = {"bm25": [], "dense": [], "search": []}
    for item in notes:
        for name, scores in (("bm25", retriever.bm25_scores(item["q"])),
                             ("dense", retriever.dense_scores(item["q"]))):
            order = np.argsort(-scores, kind="stable")[:5]
            ranks[name].append(evidence_rank([texts[i] for i in order], item["evidence"]))
        hits = retriever.search(item["q"], k=5)
        ranks["search"].append(evidence_rank([h.text for h in hits], item["evidence"]))
    print(f"\n{dev_path.name}: {len(notes)} questions with evidence")
    print(f"{'':8} {'hit@1':>6} {'hit@3':>6} {'hit@5':>6} {'MRR':>6}")
    for name, values in ranks.items():
        hit = [np.mean([r is not None and r <= k for r in values]) for k in (1, 3, 5)]
        mrr = np.mean([1 / r if r else 0.0 for r in values])
        print(f"{name:8} {hit[0]:6.2f} {hit[1]:6.2f} {hit[2]:6.2f} {mrr:6.3f}")
    missed = [item["id"] for item, r in zip(notes, ranks["search"], strict=True) if r is None]
    print(f"search misses: {missed or 'none'}")

    threshold = retriever.params.threshold
    for kind, group in (("notes", notes), ("oos", [item for item in items if item["kind"] == "oos"])):
        tops = [(hits[0].relevance if hits else 0.0) for hits in (retriever.search(i["q"]) for i in group)]
        wrong = sum((t < threshold) if kind == "notes" else (t >= threshold) for t in tops)
        print(f"relevance: {kind:5} {wrong}/{len(group)} on the wrong side of {threshold:.3f}")

    timings = []
    for _ in range(5):
        for item in items:
            started = time.perf_counter()
            retriever.search(item["q"])
            timings.append(time.perf_counter() - started)
    print(f"query latency on the notes ({len(timings)} queries): {_ms(timings)}")


SYNTHETIC_TOPICS = 2_000  # chunks really embedded; the others are noisy copies of their vectors
TOPIC_NOISE = 0.6  # norm of the noise added to a unit vector: cosine to its topic ~0.86


def synthetic_corpus(size: int, seed: int = 7) -> tuple[list[Chunk], np.ndarray]:
    """Chunks made of the notes' own vocabulary (Zipf-like draws), with clustered vectors.

    Embedding 100k chunks would take most of an hour on 2 cores and measures the embedder, not the
    index. Independent random vectors would be no better: in 512 dimensions they are all nearly
    equidistant from any query, the worst case for HNSW, so its recall would mean nothing. So the
    first SYNTHETIC_TOPICS chunks are embedded for real and every chunk's vector is one of those
    plus noise: real neighbourhoods, as in notes where many chunks discuss the same topic.
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
    topics = get_embedder().encode([c.text for c in chunks[:SYNTHETIC_TOPICS]])
    noise = rng.standard_normal((size, DIM), dtype=np.float32) * np.float32(TOPIC_NOISE / np.sqrt(DIM))
    vectors = topics[np.arange(size) % len(topics)] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return chunks, vectors.astype(np.float32)


QUERIES = [
    "QLoRA 是怎么节省显存的？", "What is top_p?", "vLLM 部署 Qwen2", "混合检索 RRF 合并",
    "learning rate warmup", "梯度下降 学习率", "LoRA alpha r 设置", "Ollama CPU 推理", "bf16 fp16 区别",
    "向量数据库 pgvector",
]


def scale_in_process(size: int) -> tuple[np.ndarray, float]:
    """Returns the vectors (for the pgvector part) and the median query latency in seconds."""
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
    return vectors, statistics.median(timings)


@contextlib.contextmanager
def bundled_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL 16 with pgvector, from the binaries in the pgserver wheel (PyPI).

    Yields a psycopg URL. The server listens on a Unix socket in a fresh temporary directory only
    (no TCP), and is stopped and its directory deleted on the way out, also after an error.
    """
    # Only pgserver's binaries are used, not its get_server(): run as root, that one adds a system
    # user (`useradd pgserver`) and chmods o+rx every parent of the data dir and of site-packages.
    # find_spec locates the package without importing it (its import sets up runtime-dir locks).
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pgserver is not installed: pip install pgserver==0.1.4 (requirements/app.txt)")
    bin_dir = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
    tmp = Path(tempfile.mkdtemp(prefix="bench-pgvector-"))
    data = tmp / "data"
    # PostgreSQL refuses to run as root: then run it as `nobody`, which owns only this directory.
    as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    if as_user:
        nobody = pwd.getpwnam("nobody")
        os.chown(tmp, nobody.pw_uid, nobody.pw_gid)

    def run(program: str, *args: str) -> None:
        done = subprocess.run([*as_user, str(bin_dir / program), *args], cwd=tmp,
                              capture_output=True, text=True, check=False)
        if done.returncode:
            log = (tmp / "log").read_text() if (tmp / "log").exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{done.stderr}{log}")

    try:
        run("initdb", "-D", str(data), "--username=postgres", "--auth=trust", "--encoding=UTF8",
            "--no-sync")
        # -l: pg_ctl sends the server's output to a file, so the captured pipes close at once.
        run("pg_ctl", "start", "-w", "-D", str(data), "-l", str(tmp / "log"),
            "-o", f"-c listen_addresses='' -k {tmp}")
        yield f"postgresql://postgres@/postgres?host={tmp}"
    finally:
        try:
            if (data / "postmaster.pid").exists():
                run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(data))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def scale_pgvector(vectors: np.ndarray, url: str, in_process_median: float) -> None:
    """The same vectors in pgvector: load, HNSW build, query latency, recall@10 against exact search.

    Uses the server at `url` when it has the `vector` extension, else a bundled_postgres().
    """
    import psycopg
    from pgvector.psycopg import register_vector

    print()
    with contextlib.ExitStack() as stack:
        try:
            conn = stack.enter_context(psycopg.connect(url, autocommit=True))
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            where = f"at {url}"
        except psycopg.Error as exc:
            stack.close()
            print(f"pgvector: not usable at {url} ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                  "using a throwaway PostgreSQL from the pgserver wheel instead")
            local_url = stack.enter_context(bundled_postgres())
            conn = stack.enter_context(psycopg.connect(local_url, autocommit=True))
            conn.execute("CREATE EXTENSION vector")
            where = f"bundled by pgserver {importlib.metadata.version('pgserver')} (PyPI), Unix socket only"
        register_vector(conn)
        extension = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        server = conn.execute("SHOW server_version").fetchone()
        print(f"pgvector {extension[0]} on PostgreSQL {server[0]} {where}")

        schema = "bench_retrieval"
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.vec (id int PRIMARY KEY, embedding vector({DIM}))")
        started = time.perf_counter()
        with conn.cursor().copy(f"COPY {schema}.vec (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, row in enumerate(vectors):
                copy.write_row((i, row))
        loaded = time.perf_counter() - started
        # The HNSW graph of 100k x 512 floats is ~250 MB; within the default 64 MB pgvector switches
        # to a much slower on-disk build. A session setting, nothing changes on the server.
        conn.execute("SET maintenance_work_mem = '1GB'")
        started = time.perf_counter()
        conn.execute(f"CREATE INDEX ON {schema}.vec USING hnsw (embedding vector_cosine_ops)")
        print(f"pgvector: {len(vectors)} vectors loaded in {loaded:.1f} s, "
              f"HNSW index built in {time.perf_counter() - started:.1f} s (m=16, ef_construction=64)")

        # ef_search bounds how many rows one HNSW scan can return (pgvector's default 40 < LIMIT 50).
        conn.execute("SET hnsw.ef_search = 100")
        embedder = get_embedder()
        timings, exact_timings, found = [], [], {}
        for query in QUERIES * 3:
            started = time.perf_counter()
            np.argpartition(-(vectors @ embedder.encode_query(query)), 50)[:50]
            exact_timings.append(time.perf_counter() - started)
            started = time.perf_counter()
            vector = embedder.encode_query(query)
            sql = f"SELECT id FROM {schema}.vec ORDER BY embedding <=> %s LIMIT 50"
            found[query] = vector, [row[0] for row in conn.execute(sql, (vector,)).fetchall()]
            timings.append(time.perf_counter() - started)
        print(f"pgvector HNSW query latency (embed + top-50): {_ms(timings)}")
        # HNSW is approximate: its top 10 against the exact top 10 by cosine (the rows are unit vectors).
        recalls, ratios = [], []
        for vector, ids in found.values():
            exact_ids = np.argsort(-(vectors @ vector))[:10]
            recalls.append(len(set(ids[:10]) & set(exact_ids.tolist())) / 10)
            # Many synthetic chunks of one topic are near-ties, so recall understates quality: also
            # compare the cosines HNSW's top 10 reach with the exact top 10's.
            ratios.append(float((vectors[ids[:10]] @ vector).sum() / (vectors[exact_ids] @ vector).sum()))
        rows = sorted(len(ids) for _, ids in found.values())
        ef_search = conn.execute("SHOW hnsw.ef_search").fetchone()
        print(f"pgvector HNSW recall@10 vs exact numpy search ({len(recalls)} queries): mean "
              f"{np.mean(recalls):.2f}, min {min(recalls):.2f}; rows returned for LIMIT 50: "
              f"{rows[0]}-{rows[-1]} (hnsw.ef_search {ef_search[0]}); cosine sum of its top 10 / exact "
              f"top 10: mean {np.mean(ratios):.3f}, min {min(ratios):.3f}")
        median, exact = statistics.median(timings), statistics.median(exact_timings)
        print(f"exact dense search in numpy (embed + top-50): {_ms(exact_timings)}")
        print(f"median latency ratios: in-process hybrid (BM25 + dense) / pgvector HNSW "
              f"{in_process_median * 1000:.1f} / {median * 1000:.1f} ms = {in_process_median / median:.1f}x; "
              f"exact numpy dense / pgvector HNSW = {exact / median:.1f}x")
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", default=str(ROOT.parent / "shared" / "eval" / "dev.yml"))
    parser.add_argument("--scale", type=int, default=100_000, help="synthetic chunks (0: quality only)")
    parser.add_argument("--pg", default=PG_URL, help="PostgreSQL URL (psycopg form) for the pgvector part")
    args = parser.parse_args()
    dev_quality(Path(args.dev))
    if not args.scale:
        return
    vectors, in_process_median = scale_in_process(args.scale)
    scale_pgvector(vectors, args.pg, in_process_median)


if __name__ == "__main__":
    main()
