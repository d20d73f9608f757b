"""Paraphrase the served FAQ questions with the local LLM (``python -m llm_fallback faq paraphrase``).

One generated question per pair and language meets few of the ways colleagues actually ask it, and
the multilingual encoder alone cannot tell a rewording from a different question on the same topic.
So, offline, the model writes several other questions that the pair's answer answers, in Chinese
and in English; the matcher's documents and vectors include them (see faq_match.py). No LLM runs
at question time.

A paraphrase is kept only if it is in its language, is a question, differs from the pair's own
questions, has no figure the pair does not have, and is closer to its own pair than to any other
served pair's questions: an ambiguous paraphrase would pull questions towards the wrong answer.
Pairs that have paraphrases are skipped (resumable, incremental); temperature 0 and a fixed seed
make the output repeat.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from tqdm import tqdm

from llm_fallback.config import Settings, load_settings
from llm_fallback.faq.store import SERVED, FaqPairRow, open_store, row_vectors, set_paraphrases
from llm_fallback.knowledge.embed import get_embedder
from llm_fallback.knowledge.store import disposing, transaction
from llm_fallback.llm.errors import LLMError
from llm_fallback.llm.service import LLM, Message, get_llm
from llm_fallback.text.grounding import unsupported_numbers
from llm_fallback.text.lang import detect_lang

log = logging.getLogger(__name__)

PER_LANGUAGE = 3
MAX_TOKENS = 160
TIMEOUT_S = 120.0
MIN_CHARS, MAX_CHARS = 4, 120

PROMPTS = {
    "zh": ("你帮忙整理常见问题。给出一个问题和它的答案，请写 {n} 个意思相同、但说法不同的中文问题，"
           "都能用这个答案回答：像同事在群里随口问的那样，换词、换句式、口语化都可以，"
           "不要重复原问题，不要写答案。术语、数字、参数名和模型名照原样写。每行一个问题，加编号。"),
    "en": ("You help curate an FAQ. Given a question and its answer, write {n} different English "
           "questions that ask the same thing and that this answer answers, the way a colleague would "
           "ask in chat, with other words and sentence shapes. Do not repeat the original question and "
           "do not answer it. Keep technical terms, numbers, parameter and model names exactly as "
           "written. One numbered question per line."),
}
# One worked example per language: without it the model often repeats the question or answers it.
EXAMPLES = {
    "zh": ("问题：LoRA 的秩 r 一般设多少？\n答案：推荐 r=16，alpha=32。",
           "1. LoRA 里 r 取多大合适？\n2. 做 LoRA 微调，rank 一般给多少？\n"
           "3. lora 的 r 和 alpha 推荐怎么配？"),
    "en": ("Question: What rank r is usually used for LoRA?\nAnswer: r=16 with alpha=32 is recommended.",
           "1. Which LoRA rank should I pick?\n2. How big should r be when fine-tuning with LoRA?\n"
           "3. What are good values for LoRA r and alpha?"),
}
_QUESTION_WORDS = re.compile(r"[？?]\s*$|吗|什么|怎么|如何|哪|多少|几|为什么|为啥|是否|呢|能否|有没有|区别")
_NUMBERED = re.compile(r"^\s*(?:\d+\s*[.)、:：]|[-*•])\s*(.+?)\s*$")


@dataclass
class ParaphraseReport:
    pairs: int = 0  # served pairs
    already_done: int = 0
    paraphrased: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> paraphrases
    failed: int = 0


def messages_for(lang: str, question: str, answer: str, n: int = PER_LANGUAGE) -> list[Message]:
    example_in, example_out = EXAMPLES[lang]
    asked = f"问题：{question}\n答案：{answer}" if lang == "zh" else f"Question: {question}\nAnswer: {answer}"
    return [{"role": "system", "content": PROMPTS[lang].format(n=n)},
            {"role": "user", "content": example_in}, {"role": "assistant", "content": example_out},
            {"role": "user", "content": asked}]


def parse_lines(text: str) -> list[str]:
    """The numbered or bulleted lines of the model's output, without their markers."""
    return [m.group(1).strip().strip("*\"“”").strip() for line in text.splitlines()
            if (m := _NUMBERED.match(line))]


def drop_reason(candidate: str, lang: str, own_questions: tuple[str, str], pair_text: str) -> str | None:
    """Why a generated paraphrase is not kept (None: keep it). ``pair_text``: the pair's questions
    and answers, the only source of figures a paraphrase may mention."""
    if not MIN_CHARS <= len(candidate) <= MAX_CHARS:
        return "length"
    if detect_lang(candidate) != lang:
        return "language"
    if _normalised(candidate) in {_normalised(q) for q in own_questions}:
        return "same_as_question"
    if not _QUESTION_WORDS.search(candidate):
        return "not_a_question"
    if unsupported_numbers(candidate, pair_text):  # "70B 7bit ..." for a pair about AWQ in general
        return "number"
    return None


def _normalised(text: str) -> str:
    return re.sub(r"[\s?？。.!！,，]+", "", text).casefold()


def closer_to_other(vector: np.ndarray, own: int, question_vectors: np.ndarray) -> bool:
    """Whether another pair's question is at least as close as the paraphrase's own pair's."""
    best = (question_vectors @ vector).max(axis=1)
    own_score = best[own]
    best[own] = -1.0
    return bool(best.max() >= own_score)


def paraphrase(db_url: str | None = None, llm: LLM | None = None, limit: int | None = None,
               progress: bool = True, settings: Settings | None = None) -> ParaphraseReport:
    """Write paraphrases for the served pairs that have none yet (at most ``limit`` pairs)."""
    settings = settings or load_settings()
    db_url = db_url or settings.db_url
    statuses = set(SERVED) | ({"proposed"} if settings.faq_serve_proposed else set())
    engine = open_store(db_url)
    report = ParaphraseReport()
    with disposing(engine):
        with transaction(engine) as s:
            rows = list(s.scalars(select(FaqPairRow).where(FaqPairRow.status.in_(statuses),
                                                             FaqPairRow.retired.is_(False))
                                  .order_by(FaqPairRow.key)))
            keys = [r.key for r in rows]
            texts = [(r.q_zh, r.a_zh, r.q_en, r.a_en) for r in rows]
            done = [r.paraphrases not in (None, "", "[]") for r in rows]
            question_vectors = np.stack([row_vectors(r) for r in rows]) if rows else np.zeros((0, 2, 1))
        report.pairs = len(rows)
        report.already_done = sum(done)
        todo = [i for i in range(len(rows)) if not done[i]][:limit]
        llm = llm or get_llm()
        for i in tqdm(todo, desc="paraphrase", unit="pair", disable=not progress):
            kept = _paraphrase_one(i, texts[i], llm, question_vectors, report)
            if kept is None:
                continue
            with transaction(engine) as s:
                set_paraphrases(s.get(FaqPairRow, keys[i]), kept)
    log.info("faq paraphrase pairs=%d paraphrased=%d kept=%d dropped=%s failed=%d", report.pairs,
             report.paraphrased, report.kept, dict(report.dropped), report.failed)
    return report


def _paraphrase_one(index: int, texts: tuple[str, str, str, str], llm: LLM, question_vectors: np.ndarray,
                    report: ParaphraseReport) -> list[str] | None:
    """The checked paraphrases of one pair, or None when the model failed (retried next run)."""
    q_zh, a_zh, q_en, a_en = texts
    candidates: list[str] = []
    for lang, question, answer in (("zh", q_zh, a_zh), ("en", q_en, a_en)):
        try:
            result = llm.generate(messages_for(lang, question, answer), max_tokens=MAX_TOKENS,
                                  temperature=0.0, timeout_s=TIMEOUT_S)
        except LLMError:
            report.failed += 1
            return None
        if result.timed_out:
            report.failed += 1
            return None
        for line in parse_lines(result.text)[:PER_LANGUAGE]:
            reason = drop_reason(line, lang, (q_zh, q_en), " ".join(texts))
            if reason:
                report.dropped[reason] += 1
            else:
                candidates.append(line)
    candidates = list(dict.fromkeys(candidates))
    kept = []
    if candidates:
        for text, vector in zip(candidates, get_embedder().encode(candidates), strict=True):
            if closer_to_other(vector, index, question_vectors):
                report.dropped["ambiguous"] += 1
            else:
                kept.append(text)
    report.paraphrased += 1
    report.kept += len(kept)
    return kept
