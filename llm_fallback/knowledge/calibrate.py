"""Fit the fusion weights and the relevance model on our own calibration questions.

1. Fusion: a small grid over the RRF constant, the dense weight and the glossary-translation
   weight, keeping the setting with the best hit@5 + MRR on the answerable questions.
2. Relevance: a logistic regression over per-hit features (``retrieve.FEATURES``). Positives are
   the top-5 hits that contain an answerable question's evidence; negatives are the top-5 hits of
   out-of-scope questions (ours, plus optionally CLINC150's out-of-scope queries). Classes are
   weighted equally, so 0.5 means "as likely in scope as not".
3. Threshold: on the top hit of every question, the highest value that leaves at most
   ``MISSED_ANSWERABLE`` of the answerable questions below it. A wrong "the notes don't cover this"
   loses an answer the notes have; an out-of-scope question above the threshold still meets the
   model, which is told to say when its passages do not answer (answer/prompt.py), and the checks.
   The balanced-accuracy cut it replaces left 16% of answerable questions below it.

Only this step reads the calibration data; the runtime reads the fitted ``retrieval_params.json``.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from llm_fallback.knowledge.fitted import write_fitted
from llm_fallback.knowledge.logistic import fit_logistic, sigmoid
from llm_fallback.knowledge.retrieve import FEATURES, PARAMS_PATH, Params, Retriever

QUESTIONS_PATH = Path(__file__).with_name("calibration_questions.yml")
# The dense side keeps a floor: a question that shares no word with the notes (a paraphrase, the
# other language) is found only by it, and the calibration set is too small to show that alone.
DENSE_WEIGHTS = (0.25, 0.5, 0.75, 1.0)
TRANSLATION_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
RRF_KS = (10.0, 30.0, 60.0)


@dataclass(frozen=True)
class Question:
    q: str
    evidence: str | None  # None: out of scope


@dataclass(frozen=True)
class CalibrationReport:
    params: Params
    answerable: int
    out_of_scope: int
    hit_at_5: float
    mrr: float
    wrong_side_answerable: int  # answerable questions whose top hit is below the threshold
    wrong_side_out_of_scope: int  # out-of-scope questions whose top hit is at or above it


def load_questions(path: Path = QUESTIONS_PATH) -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Question(item["q"], item["evidence"]) for item in data["answerable"]] + [
        Question(item["q"], None) for item in data["out_of_scope"]
    ]


def load_question_set(path: Path) -> list[Question]:
    """Questions in the end-to-end set's format (tests/e2e_questions): those with `evidence` are
    answerable, kind `oos` out of scope; skills, refusals and FAQ paraphrases are not retrieval's."""
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Question(item["q"], item.get("evidence")) for item in items
            if item.get("evidence") or item["kind"] == "oos"]


def clinc_out_of_scope(path: Path, limit: int = 60, seed: int = 13) -> list[Question]:
    """A deterministic sample of CLINC150's out-of-scope queries (everyday English requests)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    queries = [text for split in ("oos_train", "oos_val") for text, _ in data.get(split, [])]
    random.Random(seed).shuffle(queries)
    return [Question(text, None) for text in queries[:limit]]


def evidence_rank(texts: list[str], evidence: str) -> int | None:
    """1-based rank of the first text containing ``evidence``, or None."""
    return next((i for i, text in enumerate(texts, start=1) if evidence in text), None)


def fusion_quality(retriever: Retriever, questions: list[Question], k: int = 5) -> tuple[float, float]:
    """(hit@k, MRR@k) of the fused search on the answerable questions."""
    ranks = [evidence_rank([h.text for h in retriever.search(q.q, k)], q.evidence)
             for q in questions if q.evidence]
    hit = float(np.mean([r is not None for r in ranks]))
    return hit, float(np.mean([1 / r if r else 0.0 for r in ranks]))


# Share of answerable calibration questions whose top hit may fall below the relevance threshold.
MISSED_ANSWERABLE = 0.01


def _threshold(in_scope: np.ndarray, out_scope: np.ndarray) -> float:
    """The highest cut that misses at most MISSED_ANSWERABLE of the answerable questions, halfway
    between the last answerable score it lets fall and the next one up (out_scope: for the report)."""
    ordered = np.sort(in_scope)
    allowed = int(np.floor(MISSED_ANSWERABLE * len(ordered)))
    if allowed == 0:
        return float(ordered[0] / 2)
    return float((ordered[allowed - 1] + ordered[allowed]) / 2)


def calibrate(retriever: Retriever, questions: list[Question], out: Path = PARAMS_PATH) -> CalibrationReport:
    """Fit fusion and relevance parameters on ``questions`` and write them to ``out``."""
    base = retriever.params
    best: tuple[tuple[float, float], Params] | None = None
    for rrf_k, w_dense, w_translation in itertools.product(RRF_KS, DENSE_WEIGHTS, TRANSLATION_WEIGHTS):
        retriever.params = replace(base, rrf_k=rrf_k, w_dense=w_dense, w_translation=w_translation)
        quality = fusion_quality(retriever, questions)
        if best is None or sum(quality) > sum(best[0]):
            best = (quality, retriever.params)
    assert best is not None
    (hit5, mrr), params = best
    retriever.params = params

    rows, labels, top_rows, top_in_scope = [], [], [], []
    for question in questions:
        hits_idx, feats = _top_features(retriever, question.q)
        top_in_scope.append(question.evidence is not None)
        top_rows.append(feats[0] if len(hits_idx) else None)  # no hit at all: relevance 0
        texts = [retriever.chunks[i].text for i in hits_idx]
        for text, row in zip(texts, feats, strict=True):
            if question.evidence is None:
                rows.append(row)
                labels.append(0.0)
            elif question.evidence in text:
                rows.append(row)
                labels.append(1.0)
    x, y = np.array(rows), np.array(labels)
    weight = np.where(y == 1, 0.5 / y.sum(), 0.5 / (1 - y).sum()) * len(y)
    coef, intercept = fit_logistic(x, y, weight)
    top = np.array([0.0 if row is None else sigmoid(row @ coef + intercept)
                    for row in top_rows])
    mask = np.array(top_in_scope)
    threshold = _threshold(top[mask], top[~mask])
    params = replace(params, coef=tuple(round(float(c), 4) for c in coef), intercept=round(intercept, 4),
                     threshold=round(threshold, 4))
    retriever.params = params
    write_fitted(out, FEATURES, asdict(params))
    return CalibrationReport(
        params=params, answerable=int(mask.sum()), out_of_scope=int((~mask).sum()), hit_at_5=hit5, mrr=mrr,
        wrong_side_answerable=int((top[mask] < threshold).sum()),
        wrong_side_out_of_scope=int((top[~mask] >= threshold).sum()),
    )


def _top_features(retriever: Retriever, question: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the top-5 chunks, as search orders them, and their relevance features."""
    bm25, cosine, feats = retriever.features(question)
    indices, _, _ = retriever.rank(bm25, cosine, feats, 5)
    return indices, feats[indices]
