"""Hybrid retrieval over an index of the shipped notes/ (built once for this module)."""

import builtins
from dataclasses import FrozenInstanceError, replace
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest

from llm_fallback.config import Settings, load_settings
from llm_fallback.knowledge import retrieve
from llm_fallback.knowledge.embed import get_embedder
from llm_fallback.knowledge.retrieve import (
    Bm25,
    Hit,
    Params,
    Retriever,
    get_retriever,
    question_concepts,
    sections_first,
)
from llm_fallback.knowledge.store import IndexNotBuiltError, build_index
from llm_fallback.text.sentences import sentences

NOTES = Path(__file__).resolve().parents[2] / "notes"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    db = tmp_path_factory.mktemp("kb") / "knowledge.db"
    report = build_index(NOTES, f"sqlite:///{db}", progress=False)
    assert report.chunks > 50
    return replace(load_settings(), knowledge_db_url=f"sqlite:///{db}", notes_dir=NOTES)


@pytest.fixture(scope="module")
def retriever(settings: Settings) -> Retriever:
    return get_retriever(settings)


def test_get_retriever_loads_once(settings: Settings, retriever: Retriever) -> None:
    assert get_retriever(settings) is retriever


def test_missing_index_raises_clear_error(tmp_path: Path) -> None:
    empty = replace(load_settings(), knowledge_db_url=f"sqlite:///{tmp_path / 'none.db'}")
    with pytest.raises(IndexNotBuiltError, match="python -m llm_fallback index"):
        get_retriever(empty)


# Questions written for these tests (not in the calibration set nor the dev set).
IN_SCOPE = [
    ("LoRA 的秩 r 设得太大有什么风险？", "llm-basic-concepts.md", "较高的`r`值意味着更强的表达能力"),
    ("What is PagedAttention good for?", "llm-note.md", "PageAttention 参考虚拟内存和内存分页的思想"),
    ("What format must DPO preference data follow?", "jhq-llm-notes.md", "chosen:针对给定提示的较优回答"),
    ("梯度下降里 SGD 有什么特点？", "misc-notes.md", "每次更新系数只随机抽取一个样本进行计算"),
    ("How does LangSmith relate to Weights & Biases?", "llm-app-dev-practice.md", "Weights & Biases 适用于"),
]
OUT_OF_SCOPE = [
    "How do I renew my driving licence?",
    "周末去哪里爬山比较好？",
    "Order two pizzas for tonight.",
]


@pytest.mark.parametrize(("question", "file", "evidence"), IN_SCOPE)
def test_finds_the_passage_in_both_languages(
    retriever: Retriever, question: str, file: str, evidence: str
) -> None:
    hits = retriever.search(question, k=5)
    assert any(hit.file == file and evidence in hit.text for hit in hits)


def test_relevance_separates_in_scope_from_out_of_scope(retriever: Retriever) -> None:
    def top(question: str) -> float:
        hits = retriever.search(question, k=5)
        return hits[0].relevance if hits else 0.0

    in_scope = [top(question) for question, _, _ in IN_SCOPE]
    out_of_scope = [top(question) for question in OUT_OF_SCOPE]
    assert min(in_scope) > max(out_of_scope)
    # The gate is set for recall (knowledge/calibrate.py): every answerable question's best passage
    # passes it; the model has the last word on what merely resembles the notes.
    assert all(relevance >= retriever.params.threshold for relevance in in_scope)


def test_hits_point_at_real_lines(retriever: Retriever) -> None:
    hits = retriever.search("vLLM 和 FastChat 怎么部署 OpenAI 兼容的服务？", k=5)
    assert len(hits) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for hit in hits:
        lines = (NOTES / hit.file).read_text(encoding="utf-8").splitlines()
        assert 1 <= hit.line_start <= hit.line_end <= len(lines)
        assert hit.text.splitlines()[-1].strip() in "\n".join(lines[hit.line_start - 1:hit.line_end])
        assert 0.0 <= hit.relevance <= 1.0
        assert hit.relevant == (hit.relevance >= retriever.params.threshold)
    with pytest.raises(FrozenInstanceError):
        hits[0].score = 1.0  # type: ignore[misc]


def test_queries_never_touch_files(
    retriever: Retriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever.search("warmup")  # the embedder is loaded lazily on the first query

    def no_files(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("a query opened a file")

    monkeypatch.setattr(builtins, "open", no_files)
    monkeypatch.setattr(Path, "read_text", no_files)
    # Latency is bench/retrieval.py's to measure; here every query must work from memory.
    questions = ("什么是 RRF？", "How much VRAM does QLoRA save?", "bf16 和 fp16 的区别")
    for question in questions:
        assert retriever.search(question)


def test_empty_question_gives_no_hits(retriever: Retriever) -> None:
    assert retriever.search("   ") == []


def test_bm25_ranks_by_term_rarity_and_frequency() -> None:
    bm25 = Bm25([["lora", "rank"], ["lora", "alpha", "alpha"], ["qlora", "int4"], ["other", "words"]])
    scores, norm = bm25.query({"alpha": 1.0, "lora": 1.0})
    assert np.argmax(scores) == 1 and scores[3] == 0
    assert (norm <= 1.0).all()
    unknown, _ = bm25.query({"nothing": 1.0})
    assert not unknown.any()


def test_coverage_counts_a_term_present_in_either_language() -> None:
    bm25 = Bm25([["训练", "框架"], ["training", "framework"], ["训练", "other"], ["other", "words"]])
    coverage, shared = bm25.coverage([("training", "训练"), ("framework", "框架")])
    assert coverage[0] == pytest.approx(1.0) and coverage[1] == pytest.approx(1.0)
    assert 0 < coverage[2] < 1 and coverage[3] == 0
    assert list(shared) == [2, 2, 1, 0]
    # a term the notes never use weighs against every chunk
    coverage, shared = bm25.coverage([("training", "训练"), ("nothing",)])
    assert 0 < coverage[0] < 1 and shared[0] == 1
    assert question_concepts("Which training framework?", None)[:2] == \
        [("training", "训练"), ("framework", "框架")]


def test_params_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"features": ["cosine", "bm25_norm", "coverage", "sentence_cosine"], '
                    '"w_dense": 0.75, "coef": [1, 2, 3, 4]}')
    params = Params.load(path)
    assert params.w_dense == 0.75 and params.coef == (1, 2, 3, 4)
    path.write_text('{"features": ["other"]}')
    with pytest.raises(ValueError, match="calibrate"):
        Params.load(path)
    assert retrieve.Params.load(tmp_path / "missing.json") == Params()


def test_hit_label() -> None:
    hit = Hit("a.md", "量化 > QLoRA", 3, 9, "text", 0.1, 0.9, True)
    assert hit.lines == "3-9"
    assert hit.sources_label() == "a.md › 量化 > QLoRA (lines 3-9)"


def test_a_follow_up_looks_first_where_the_previous_answer_was_found() -> None:
    def hit(heading: str, relevance: float) -> Hit:
        return Hit("a.md", heading, 1, 2, heading, relevance, relevance, relevance >= 0.3)

    best, same, weak_same, other = hit("量化", 0.9), hit("LoRA", 0.6), hit("LoRA", 0.1), hit("RAG", 0.5)
    hits = [best, weak_same, same, other]
    assert sections_first(hits, ["LoRA"]) == [same, best, weak_same, other]
    assert sections_first(hits, ["PEFT"]) == hits  # nothing relevant there: the order stands
    assert sections_first(hits, []) == hits


def test_a_chunk_scores_its_closest_sentence(retriever: Retriever) -> None:
    """sentence_cosine is each chunk's best sentence against the question; a chunk stored without
    sentence vectors counts as one sentence, its own vector."""
    question = "LoRA 的 alpha 一般设多少？"
    query = get_embedder().encode_query(question)
    column = retrieve.FEATURES.index("sentence_cosine")
    _, cosine, features = retriever.features(question)
    sentence_cosine = features[:, column]
    for i in (0, len(retriever.chunks) // 2, len(retriever.chunks) - 1):
        expected = float((get_embedder().encode(sentences(retriever.chunks[i].text)) @ query).max())
        assert sentence_cosine[i] == pytest.approx(expected, abs=1e-5)

    plain = Retriever(retriever.chunks, retriever.vectors, retriever.params, retriever.userdict)
    _, _, plain_features = plain.features(question)
    assert plain_features[:, column] == pytest.approx(cosine, abs=1e-6)
