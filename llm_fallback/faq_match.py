"""Answer a question from the reviewed FAQ, instantly and without the LLM, when one pair clearly matches.

Each served pair has phrasings: its Chinese and English questions and the paraphrases stored with
it (faq_paraphrase.py), each with a vector. For a question, the pairs with the closest phrasings
are the candidates; a small logistic model (fitted by ``faq fit``, see faq_fit.py, on the FAQ's own
paraphrases against questions the FAQ does not answer) turns each candidate's features into the
probability that it answers the question. Besides cosines, the features count the names in the
question the pair does not mention, and whether it asks for a figure the answer lacks, because the
multilingual encoder alone rates two questions about different parameters of one topic
("lora_alpha" / "lora_dropout") as near-identical.
Below the fitted threshold (or ``FAQ_MIN_CONFIDENCE``) there is no FAQ answer and the notes answer
(retrieval + LLM) takes over. Pairs and vectors are read from the knowledge store once per process.
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

from llm_fallback.answer import Answer, answer_question, compose_reply
from llm_fallback.config import Settings, load_settings
from llm_fallback.embed import DIM, MODEL_NAME, get_embedder
from llm_fallback.faq_store import (
    SERVED,
    FaqPairRow,
    Pair,
    has_faq,
    question_vectors,
    row_paraphrase_vectors,
    to_pair,
)
from llm_fallback.fitted import read_fitted, write_fitted
from llm_fallback.lang import Lang, detect_lang
from llm_fallback.redact import redact
from llm_fallback.retrieve import Hit
from llm_fallback.safety import check_request
from llm_fallback.store import make_engine, transaction
from llm_fallback.tokenize import tokenize, translate_terms

log = logging.getLogger(__name__)

PARAMS_PATH = Path(__file__).with_name("faq_match_params.json")
FEATURES = ("cosine", "margin", "question_overlap", "pair_overlap", "unmatched_names", "unanswered_quantity")
CANDIDATES = 5
_ASCII_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+#\-]*[A-Za-z0-9+#]|[A-Za-z0-9]")
_SENTENCE_START = re.compile(r"(?:^|[.?!]\s+)$")
# A question asking for a figure; a pair whose answer has no digit does not answer it.
_ASKS_QUANTITY = re.compile(r"多少|几[个种项道条层步位张卡]|多大|多长|多久|how (?:many|much|long|big|large)|"
                            r"what (?:size|value)|default value|默认值", re.I)


@dataclass(frozen=True)
class MatchParams:
    """The fitted scorer; the defaults (a plain cosine cut) serve until ``faq fit`` has run."""

    coef: tuple[float, ...] = (12.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    intercept: float = -10.0
    threshold: float = 0.5

    @classmethod
    def load(cls, path: Path = PARAMS_PATH) -> MatchParams:
        data = read_fitted(path, FEATURES, "python -m llm_fallback faq fit")
        if data is None:
            return cls()
        return cls(tuple(data["coef"]), float(data["intercept"]), float(data["threshold"]))

    def save(self, path: Path = PARAMS_PATH, **report: object) -> None:
        write_fitted(path, FEATURES, {**asdict(self), **report})

    def probability(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(features @ np.array(self.coef) + self.intercept)))


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
    """In-memory index of the served pairs: one vector and one term set per phrasing."""

    def __init__(self, pairs: list[Pair], vectors: np.ndarray, paraphrase_vectors: list[np.ndarray],
                 params: MatchParams, min_confidence: float | None = None,
                 userdict: Path | None = None) -> None:
        self.pairs = pairs
        self.params = params
        self.min_confidence = params.threshold if min_confidence is None else min_confidence
        self.userdict = userdict
        phrases, blocks, owners = [], [], []
        for i, pair in enumerate(pairs):
            own = (pair.q_zh, pair.q_en, *pair.paraphrases)
            phrases.extend(own)
            blocks.append(vectors[i].reshape(2, DIM))
            blocks.append(paraphrase_vectors[i].reshape(-1, DIM))
            owners.extend([i] * len(own))
        self.phrase_vectors = (np.concatenate(blocks) if blocks else np.zeros((0, DIM))).astype(np.float32)
        self.owner = np.array(owners, dtype=np.int64)
        if len(self.owner) != len(self.phrase_vectors):
            raise ValueError("each FAQ paraphrase needs one vector: re-import the FAQ file")
        self.phrases = phrases
        self.phrase_terms = [self._terms(text) for text in phrases]
        self.answer_terms = [self._terms(f"{p.a_zh} {p.a_en}") for p in pairs]
        self.answer_has_figure = [any(ch.isdigit() for ch in f"{p.a_zh} {p.a_en}") for p in pairs]
        # What the pair itself says (not its paraphrases, which are the model's wording).
        self.pair_text = [f"{p.q_zh} {p.a_zh} {p.q_en} {p.a_en}".lower() for p in pairs]

    def _terms(self, text: str) -> frozenset[str]:
        return frozenset(tokenize(text, self.userdict) + tokenize(translate_terms(text), self.userdict))

    def candidates(self, question: str, hide_phrases: frozenset[int] = frozenset(),
                   hide_pairs: frozenset[int] = frozenset()) -> Candidates:
        """The CANDIDATES pairs with the closest phrasings, and their features.

        ``hide_*`` leave phrasings or whole pairs out, as if they were not in the FAQ: faq_fit uses
        them to score a pair's own paraphrase, or a question whose pair is missing."""
        query = get_embedder().encode_query(question)
        sims = self.phrase_vectors @ query
        visible = np.ones(len(sims), dtype=bool)
        visible[list(hide_phrases)] = False
        visible &= ~np.isin(self.owner, list(hide_pairs))
        cosine = np.full(len(self.pairs), -1.0, dtype=np.float32)
        np.maximum.at(cosine, self.owner[visible], sims[visible])
        order = np.argsort(-cosine, kind="stable")[:CANDIDATES]
        order = order[cosine[order] > -1.0]
        asked = set(tokenize(question, self.userdict))
        bridged = asked | set(tokenize(translate_terms(question), self.userdict))
        names = named_terms(question)
        asks_quantity = bool(_ASKS_QUANTITY.search(question))
        rows = []
        for i in order:
            phrase_ids = [j for j in np.flatnonzero(self.owner == i) if visible[j]]
            question_terms = frozenset().union(*(self.phrase_terms[j] for j in phrase_ids))
            others = np.delete(cosine, i)
            rows.append((
                cosine[i],
                cosine[i] - (others.max() if len(others) else 0.0),
                _share(bridged & question_terms, asked),
                _share(bridged & (question_terms | self.answer_terms[i]), asked),
                min(2, sum(1 for name in names if name not in self.pair_text[i])),
                float(asks_quantity and not self.answer_has_figure[i]),
            ))
        features = np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES))
        return Candidates(order, features)

    def best(self, question: str) -> FaqMatch | None:
        """The most probable pair whatever its probability (None only when there are no pairs)."""
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
    chinese = bool(re.search(r"[\u3400-\u9fff]", question))
    names = set()
    for match in _ASCII_TERM.finditer(question):
        term = match.group(0)
        sentence_start = bool(_SENTENCE_START.search(question[:match.start()]))
        if chinese or any(ch.isdigit() or ch in "_-." for ch in term) or (term.isupper() and len(term) > 1) \
                or (term[0].isupper() and not sentence_start):
            names.add(term.lower())
    return names


def _share(found: set[str] | frozenset[str], asked: set[str]) -> float:
    return min(1.0, len(found) / len(asked)) if asked else 0.0


def load_served(db_url: str, serve_proposed: bool) -> tuple[list[Pair], np.ndarray, list[np.ndarray]]:
    """Pairs that may be served (not retired), their question and paraphrase vectors, in a stable order."""
    statuses = set(SERVED) | ({"proposed"} if serve_proposed else set())
    engine = make_engine(db_url)
    try:
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
    finally:
        engine.dispose()
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
             len(matcher.phrases), serve_proposed, matcher.min_confidence)
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


def faq_or_notes(question: str) -> Answer:
    """What the assistant answers: a confident FAQ match at once (no LLM), else the notes answer.

    A broken FAQ store must not take the notes answer down with it: log and fall through."""
    try:
        found = faq_answer(question)
    except Exception:
        log.exception("faq lookup failed; answering from the notes")
        found = None
    return found or answer_question(question)
