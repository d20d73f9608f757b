"""Answer a question from the reviewed FAQ, instantly and without the LLM, when one pair clearly matches.

Each served pair is a small document: its Chinese and English questions, the paraphrases stored with
it (faq_paraphrase.py) and its answers. For a question, BM25 over these documents (with the glossary
bridging Chinese and English terms, as in the notes' retrieval) gives the candidates: people's
rewordings share the pair's terms more reliably than the multilingual encoder rates them close. A
small logistic model (fitted by ``faq fit`` on people's questions, see faq_fit.py) turns each
candidate's features into the probability that it answers the question: how much of the question the
pair covers, how far it leads the next pair, the closest phrasing's cosine, how many of the
question's terms it shares, names in the question the pair never mentions ("lora_alpha" /
"lora_dropout"), and a figure asked for that the answer lacks. Below the fitted threshold (or
``FAQ_MIN_CONFIDENCE``) there is no FAQ answer and the notes answer (retrieval + LLM) takes over.
Pairs and vectors are read from the knowledge store once per process.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy import select

from llm_fallback.answer.pipeline import Answer, compose_reply
from llm_fallback.answer.safety import check_request
from llm_fallback.config import Settings, load_settings
from llm_fallback.faq.store import (
    SERVED,
    FaqPairRow,
    Pair,
    has_faq,
    question_vectors,
    row_paraphrase_vectors,
    to_pair,
)
from llm_fallback.knowledge.embed import DIM, MODEL_NAME, get_embedder
from llm_fallback.knowledge.fitted import load_params, write_fitted
from llm_fallback.knowledge.logistic import sigmoid
from llm_fallback.knowledge.retrieve import Bm25, Hit, query_terms, question_concepts
from llm_fallback.knowledge.store import disposing, make_engine, transaction
from llm_fallback.text.lang import CJK, Lang, detect_lang
from llm_fallback.text.redact import redact
from llm_fallback.text.tokenize import tokenize

log = logging.getLogger(__name__)

PARAMS_PATH = Path(__file__).with_name("match_params.json")
FEATURES = ("bm25", "coverage", "lead", "cosine", "shared_terms", "unmatched_names", "unanswered_quantity")
CANDIDATES = 5
# BM25 weight of the glossary translations of a question's terms (1 for its own terms).
TRANSLATION_WEIGHT = 0.5
_ASCII_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+#\-]*[A-Za-z0-9+#]|[A-Za-z0-9]")
_SENTENCE_START = re.compile(r"(?:^|[.?!]\s+)$")
# A question asking for a figure; a pair whose answer has no figure does not answer it.
_ASKS_QUANTITY = re.compile(r"多少|几[个种项道条层步位张卡]|多大|多长|多久|how (?:many|much|long|big|large)|"
                            r"what (?:size|value)|default value|默认值", re.I)
# A figure: a number standing on its own ("2%", "12G", "7860", "70B"), not the digits of a name
# ("GPT-4", "Qwen2", "int8", "FP16"), which answer no "how many".
_FIGURE = re.compile(r"(?<![A-Za-z0-9_.\-])\d")


@dataclass(frozen=True)
class MatchParams:
    """The fitted scorer; the defaults (a cut on coverage and lead) serve until ``faq fit`` has run."""

    coef: tuple[float, ...] = (0.0, 6.0, 10.0, 0.0, 0.0, -3.0, -3.0)
    intercept: float = -5.0
    threshold: float = 0.5

    @classmethod
    def load(cls, path: Path = PARAMS_PATH) -> MatchParams:
        return load_params(cls, path, FEATURES, "python -m llm_fallback faq fit")

    def save(self, path: Path = PARAMS_PATH, **report: object) -> None:
        write_fitted(path, FEATURES, {**asdict(self), **report})

    def probability(self, features: np.ndarray) -> np.ndarray:
        return sigmoid(features @ np.array(self.coef) + self.intercept)


@dataclass(frozen=True)
class FaqMatch:
    pair: Pair
    score: float  # probability that the pair answers the question


@dataclass(frozen=True)
class Candidates:
    """The closest pairs for one question and their feature rows (FEATURES order)."""

    indices: np.ndarray
    features: np.ndarray


class FaqMatcher:
    """In-memory index of the served pairs: a BM25 document per pair and a vector per phrasing."""

    def __init__(self, pairs: list[Pair], vectors: np.ndarray, paraphrase_vectors: list[np.ndarray],
                 params: MatchParams, min_confidence: float | None = None,
                 userdict: Path | None = None) -> None:
        self.pairs = pairs
        self.params = params
        self.min_confidence = params.threshold if min_confidence is None else min_confidence
        self.userdict = userdict
        blocks, owners = [], []
        for i, pair in enumerate(pairs):
            blocks.append(vectors[i].reshape(2, DIM))
            blocks.append(paraphrase_vectors[i].reshape(-1, DIM))
            owners.extend([i] * (2 + len(pair.paraphrases)))
        self.phrase_vectors = (np.concatenate(blocks) if blocks else np.zeros((0, DIM))).astype(np.float32)
        self.owner = np.array(owners, dtype=np.int64)
        if len(self.owner) != len(self.phrase_vectors):
            raise ValueError("each FAQ paraphrase needs one vector: re-import the FAQ file")
        self.bm25 = Bm25([tokenize(" ".join((p.q_zh, p.q_en, *p.paraphrases, p.a_zh, p.a_en)), userdict)
                          for p in pairs])
        self.answer_has_figure = [bool(_FIGURE.search(f"{p.a_zh} {p.a_en}")) for p in pairs]
        # What the pair itself says (not its paraphrases, which are the model's wording).
        self.pair_text = [f"{p.q_zh} {p.a_zh} {p.q_en} {p.a_en}".lower() for p in pairs]

    def candidates(self, question: str) -> Candidates:
        """The CANDIDATES pairs sharing most terms with the question (BM25), and their features."""
        _, bm25 = self.bm25.query(query_terms(question, self.userdict, TRANSLATION_WEIGHT))
        # How many terms a pair shares, besides their weight: one shared rare word ("alpha" in
        # "alpha male") can give a short question a high score.
        coverage, shared = self.bm25.coverage(question_concepts(question, self.userdict))
        order = np.argsort(-bm25, kind="stable")[:CANDIDATES]
        order = order[bm25[order] > 0]
        cosine = np.full(len(self.pairs), -1.0, dtype=np.float32)
        if len(order):
            np.maximum.at(cosine, self.owner, self.phrase_vectors @ get_embedder().encode_query(question))
        names = named_terms(question)
        asks_quantity = bool(_ASKS_QUANTITY.search(question))
        rows = []
        for i in order:
            others = np.delete(bm25, i)
            rows.append({
                "bm25": bm25[i],
                "coverage": coverage[i],
                "lead": bm25[i] - (others.max() if len(others) else 0.0),
                "cosine": cosine[i],
                "shared_terms": min(3, shared[i]),
                "unmatched_names": min(2, sum(1 for name in names if name not in self.pair_text[i])),
                "unanswered_quantity": float(asks_quantity and not self.answer_has_figure[i]),
            })
        features = np.array([[row[name] for name in FEATURES] for row in rows], dtype=np.float64)
        return Candidates(order, features.reshape(-1, len(FEATURES)))

    def best(self, question: str) -> FaqMatch | None:
        """The most probable pair whatever its probability (None when no pair shares a term)."""
        if not self.pairs or not question.strip():
            return None
        found = self.candidates(question)
        if not len(found.indices):
            return None
        probability = self.params.probability(found.features)
        top = int(np.argmax(probability))
        i = int(found.indices[top])
        return FaqMatch(self.pairs[i], float(probability[top]))

    def match(self, question: str) -> FaqMatch | None:
        """The best pair when its probability reaches ``min_confidence``; else None."""
        found = self.best(question)
        return found if found and found.score >= self.min_confidence else None


def named_terms(question: str) -> set[str]:
    """The question's ASCII terms that name something precise, lower-cased: in a Chinese question
    every one (TVM, AWQ, 13B); in English the ones with a digit, a joiner or a capital that does not
    start the sentence (MT-Bench, lora_dropout, Sora, ROUGE-W). Asking about a name the pair never
    mentions means asking something else."""
    chinese = bool(CJK.search(question))
    names = set()
    for match in _ASCII_TERM.finditer(question):
        term = match.group(0)
        sentence_start = bool(_SENTENCE_START.search(question[:match.start()]))
        if chinese or any(ch.isdigit() or ch in "_-." for ch in term) or (term.isupper() and len(term) > 1) \
                or (term[0].isupper() and not sentence_start):
            names.add(term.lower())
    return names


def load_served(db_url: str, serve_proposed: bool) -> tuple[list[Pair], np.ndarray, list[np.ndarray]]:
    """Pairs that may be served (not retired), their question and paraphrase vectors, in a stable order."""
    statuses = set(SERVED) | ({"proposed"} if serve_proposed else set())
    with disposing(make_engine(db_url)) as engine:
        if not has_faq(engine):
            return [], np.zeros((0, 2, DIM), np.float32), []
        with transaction(engine) as s:
            rows = list(s.scalars(select(FaqPairRow).where(FaqPairRow.status.in_(statuses),
                                                             FaqPairRow.retired.is_(False))
                                  .order_by(FaqPairRow.key)))
            pairs = [to_pair(r) for r in rows]
            stale = [i for i, r in enumerate(rows) if r.vector_model != MODEL_NAME]
            blobs = [r.vectors for r in rows]
            paraphrase_vectors = [row_paraphrase_vectors(r) for r in rows]
    vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(pairs), 2, DIM).copy()
    if stale:  # stored by another encoder: embed again in memory (the next generate/import stores them)
        vectors[stale] = question_vectors([(pairs[i].q_zh, pairs[i].q_en) for i in stale])
        for i in stale:
            if pairs[i].paraphrases:
                paraphrase_vectors[i] = get_embedder().encode(list(pairs[i].paraphrases))
    return pairs, vectors, paraphrase_vectors


@lru_cache(maxsize=4)
def _load_matcher(db_url: str, serve_proposed: bool, min_confidence: float | None,
                  userdict: Path) -> FaqMatcher:
    pairs, vectors, paraphrase_vectors = load_served(db_url, serve_proposed)
    matcher = FaqMatcher(pairs, vectors, paraphrase_vectors, MatchParams.load(), min_confidence, userdict)
    log.info("faq loaded pairs=%d phrasings=%d serve_proposed=%s min_confidence=%.3f", len(pairs),
             len(matcher.owner), serve_proposed, matcher.min_confidence)
    return matcher


def get_faq_matcher(settings: Settings | None = None) -> FaqMatcher:
    """The process-wide matcher for the configured store, loaded on first use."""
    settings = settings or load_settings()
    return _load_matcher(settings.db_url, settings.faq_serve_proposed, settings.faq_min_confidence,
                         settings.jieba_userdict)


def source_hit(pair: Pair, score: float) -> Hit:
    """The pair's source as a retrieval hit, so the reply cites it exactly like a notes answer."""
    return Hit(pair.file, pair.heading, pair.line_start, pair.line_end, "", score, score, True)


def faq_answer(question: str, matcher: FaqMatcher | None = None) -> Answer | None:
    """The FAQ reply (in the question's language, with its source), or None to fall through.

    Requests the safety check refuses fall through too: the notes pipeline refuses them."""
    start = time.monotonic()
    if not question.strip() or check_request(question) is not None:
        return None
    question = redact(question).text  # a pasted secret is not embedded or logged
    found = (matcher or get_faq_matcher()).match(question)
    if found is None:
        return None
    lang: Lang = detect_lang(question)
    hit = source_hit(found.pair, found.score)
    text = compose_reply(found.pair.answer(lang), [hit], lang)
    latency_ms = round((time.monotonic() - start) * 1000)
    log.info("answer route=faq lang=%s key=%s score=%.3f latency_ms=%d", lang, found.pair.key, found.score,
             latency_ms)
    return Answer(text, "faq", (hit,), latency_ms, None, 0)
