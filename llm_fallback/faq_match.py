"""Answer a question from the reviewed FAQ, instantly and without the LLM, when one pair clearly matches.

Every served pair has two question vectors (Chinese and English), so a paraphrase in either
language meets the pair. A pair's score mixes the best cosine with the share of the question's
terms the pair's questions contain (glossary translations included), because the multilingual
encoder alone rates two questions about different parameters of one topic as near-identical.
Below ``FAQ_MIN_SIMILARITY`` there is no FAQ answer and the notes answer (retrieval + LLM) takes over.
The pairs and vectors are read from the knowledge store once per process.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy import select

from llm_fallback.answer import Answer, answer_question, compose_reply
from llm_fallback.config import Settings, load_settings
from llm_fallback.embed import DIM, MODEL_NAME, get_embedder
from llm_fallback.faq_store import SERVED, FaqPairRow, Pair, has_faq, question_vectors, to_pair
from llm_fallback.lang import Lang, detect_lang
from llm_fallback.redact import redact
from llm_fallback.retrieve import Hit
from llm_fallback.safety import check_request
from llm_fallback.store import make_engine, transaction
from llm_fallback.tokenize import tokenize, translate_terms

log = logging.getLogger(__name__)

# Weight of term overlap in the score; the rest is the cosine. A starting value, not yet fitted: it
# and FAQ_MIN_SIMILARITY should be set on a real FAQ's own questions against other notes questions
# (bench/faq.py prints the routing figures), not on the paraphrase test file.
LEXICAL_WEIGHT = 0.3


@dataclass(frozen=True)
class FaqMatch:
    pair: Pair
    score: float
    cosine: float
    overlap: float


class FaqMatcher:
    """In-memory index of the served pairs: question vectors and question terms."""

    def __init__(self, pairs: list[Pair], vectors: np.ndarray, min_similarity: float,
                 userdict: Path | None = None) -> None:
        self.pairs = pairs
        self.vectors = vectors.reshape(len(pairs), 2, DIM).astype(np.float32)
        self.min_similarity = min_similarity
        self.userdict = userdict
        self.terms = [self._terms(f"{p.q_zh} {p.q_en}") for p in pairs]

    def _terms(self, text: str) -> set[str]:
        own = set(tokenize(text, self.userdict))
        return own | set(tokenize(translate_terms(text), self.userdict))

    def score_all(self, question: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per pair: (score, best cosine over both languages, term overlap)."""
        query = get_embedder().encode_query(question)
        cosine = np.einsum("nld,d->nl", self.vectors, query).max(axis=1)
        asked = set(tokenize(question, self.userdict))
        if asked:
            bridged = asked | set(tokenize(translate_terms(question), self.userdict))
            # Share of the asked terms the pair covers (directly or through the glossary).
            overlap = np.array([len(bridged & t) / len(asked) for t in self.terms], dtype=np.float32)
            overlap = np.minimum(overlap, 1.0)
        else:
            overlap = np.zeros(len(self.pairs), dtype=np.float32)
        return (1 - LEXICAL_WEIGHT) * cosine + LEXICAL_WEIGHT * overlap, cosine, overlap

    def best(self, question: str) -> FaqMatch | None:
        """The best pair whatever its score (None only when there are no pairs)."""
        if not self.pairs or not question.strip():
            return None
        score, cosine, overlap = self.score_all(question)
        i = int(np.argmax(score))
        return FaqMatch(self.pairs[i], float(score[i]), float(cosine[i]), float(overlap[i]))

    def match(self, question: str) -> FaqMatch | None:
        """The best pair when it scores at least ``min_similarity``; else None."""
        found = self.best(question)
        return found if found and found.score >= self.min_similarity else None


def load_served(db_url: str, serve_proposed: bool) -> tuple[list[Pair], np.ndarray]:
    """Pairs that may be served (not retired) and their question vectors, in a stable order."""
    statuses = set(SERVED) | ({"proposed"} if serve_proposed else set())
    engine = make_engine(db_url)
    try:
        if not has_faq(engine):
            return [], np.zeros((0, 2, DIM), np.float32)
        with transaction(engine) as s:
            rows = list(s.scalars(select(FaqPairRow).where(FaqPairRow.status.in_(statuses),
                                                             FaqPairRow.retired.is_(False))
                                  .order_by(FaqPairRow.key)))
            pairs = [to_pair(r) for r in rows]
            stale = [i for i, r in enumerate(rows) if r.vector_model != MODEL_NAME]
            blobs = [r.vectors for r in rows]
    finally:
        engine.dispose()
    vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(pairs), 2, DIM).copy()
    if stale:  # stored by another encoder: embed again in memory (the next generate/import stores them)
        vectors[stale] = question_vectors([(pairs[i].q_zh, pairs[i].q_en) for i in stale])
    return pairs, vectors


@lru_cache(maxsize=4)
def _load_matcher(db_url: str, serve_proposed: bool, min_similarity: float, userdict: Path) -> FaqMatcher:
    pairs, vectors = load_served(db_url, serve_proposed)
    log.info("faq loaded pairs=%d serve_proposed=%s", len(pairs), serve_proposed)
    return FaqMatcher(pairs, vectors, min_similarity, userdict)


def get_faq_matcher(settings: Settings | None = None) -> FaqMatcher:
    """The process-wide matcher for the configured store, loaded on first use."""
    settings = settings or load_settings()
    return _load_matcher(settings.db_url, settings.faq_serve_proposed, settings.faq_min_similarity,
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
