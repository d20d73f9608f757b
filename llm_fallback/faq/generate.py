"""Generate FAQ pairs from the indexed chunks with the local LLM (``python -m llm_fallback faq generate``).

Two steps per chunk: the model writes the entries in Chinese (the notes' language), then translates
each entry into English in its own short call. Measured on the shipped notes: asked for both
languages in one answer, the 0.5B model writes English only and the 1.5B model Chinese only;
one language at a time, both follow the format. Every pair passes the checks of faq_check or is
stored as rejected with the reason. Each chunk is committed on its own, so an interrupted run
resumes where it stopped; chunks whose content hash was already done are skipped, so after the
notes change only new or changed chunks are generated, and pairs whose chunk is gone are retired
(a curated pair moves to the new chunk of the same section when its numbers still hold there).
Temperature 0 and a fixed seed, chunks in index order: the same model and notes give the same pairs.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from llm_fallback.config import Settings, load_settings
from llm_fallback.faq.checks import duplicate_of, language_reason, redacted_reason, unsupported_reason
from llm_fallback.faq.store import (
    FaqChunkRow,
    FaqPairRow,
    Pair,
    new_row,
    open_store,
    pair_key,
    question_vectors,
    row_vectors,
    write_meta,
)
from llm_fallback.faq.sync import evidence, reconcile
from llm_fallback.knowledge.chunk import Chunk
from llm_fallback.knowledge.store import disposing, require_index, transaction
from llm_fallback.llm.errors import LLMError
from llm_fallback.llm.service import LLM, Message, get_llm
from llm_fallback.text.lang import CJK

log = logging.getLogger(__name__)

SYSTEM = (
    "你根据团队笔记中的一段内容编写常见问题（FAQ）。规则：\n"
    "1. 只使用这段内容明确写出的事实，数字和技术术语照原文抄写。\n"
    "2. 每个问题都写明主题（不用“它”“这个”），像没看过笔记的同事会问的那样。\n"
    "3. 每个回答一到两句话。\n"
    "4. 用中文，严格按以下格式：\n"
    "问：<问题>\n"
    "答：<回答>"
)
TRANSLATE = (
    "You translate FAQ entries from Chinese into English. Keep numbers, code, model names and "
    "technical terms exactly as written. Write English only, in exactly this format:\n"
    "Q: <question>\n"
    "A: <answer>"
)
# One worked example: without it the 0.5B model often copies the Chinese instead of translating.
TRANSLATE_EXAMPLE = (
    "问：LoRA 的秩 r 一般设多少？\n答：推荐 r=16，alpha=32。",
    "Q: What rank r is usually used for LoRA?\nA: r=16 with alpha=32 is recommended.",
)
PROMPT_VERSION = "4"
MIN_PROSE_CHARS = 80  # shorter chunks (a heading and a link, a stray line) make poor FAQs
MIN_PROSE_SHARE = 0.3  # mostly code or table: nothing a colleague would ask in words
CHARS_PER_ENTRY = 150
MAX_ENTRIES = 3
PASSAGE_CHARS = 700  # chunks are at most ~750 characters; this caps prompt time
GENERATION_TIMEOUT_S = 180.0

CODE_CJK_SHARE = 0.25
_FENCED = re.compile(r"```.*?(?:```|$)", re.S)
_TABLE_ROW = re.compile(r"(?m)^\s*\|.*$")
_URL = re.compile(r"!?\[[^\]]*\]\([^)]*\)|https?://\S+")
_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:\d+[.)、]\s*)?\**(Q|A|问|答)\s*\d*\s*\**\s*[:：]\s*\**\s*(.*)$", re.I)


@dataclass
class GenerateReport:
    chunks: int = 0  # chunks in the index
    already_done: int = 0
    generated: int = 0  # chunks the model was asked about in this run
    skipped: Counter = field(default_factory=Counter)  # reason -> chunks
    failed: int = 0
    proposed: int = 0  # pairs that passed every check
    rejected: Counter = field(default_factory=Counter)  # check -> pairs
    kept_existing: int = 0  # pairs already stored with the same key (curated ones stay as they are)
    retired: int = 0
    reattached: int = 0


@dataclass(frozen=True)
class Draft:
    q_en: str
    a_en: str
    q_zh: str
    a_zh: str


def _drop_code(match: re.Match[str]) -> str:
    # The notes also fence plain Chinese prose; only a block that is mostly not Chinese is code.
    block = match.group(0)
    visible = re.sub(r"\s", "", block)
    return block if visible and len(CJK.findall(block)) >= CODE_CJK_SHARE * len(visible) else " "


def prose(text: str) -> str:
    """The chunk without code, table rows and links: what can be asked about in words."""
    return _URL.sub(" ", _TABLE_ROW.sub(" ", _FENCED.sub(_drop_code, text))).replace("```", "").strip()


def skip_reason(chunk: Chunk) -> str | None:
    words = prose(chunk.text)
    if len(words) < MIN_PROSE_CHARS:
        return "short"
    if len(words) < MIN_PROSE_SHARE * len(chunk.text):
        return "code_or_table"
    return None


def entries_for(chunk: Chunk) -> int:
    """One entry per ~150 characters of prose, at most MAX_ENTRIES (output tokens cost the most)."""
    return max(1, min(MAX_ENTRIES, len(prose(chunk.text)) // CHARS_PER_ENTRY))


def build_messages(chunk: Chunk) -> list[Message]:
    passage = chunk.text if len(chunk.text) <= PASSAGE_CHARS else chunk.text[:PASSAGE_CHARS] + "…"
    heading = chunk.heading or chunk.file
    user = f"笔记内容（{heading}）：\n{passage}\n\n写 {entries_for(chunk)} 条 FAQ。"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def translation_messages(q_zh: str, a_zh: str) -> list[Message]:
    example_in, example_out = TRANSLATE_EXAMPLE
    return [
        {"role": "system", "content": TRANSLATE},
        {"role": "user", "content": example_in},
        {"role": "assistant", "content": example_out},
        {"role": "user", "content": f"问：{q_zh}\n答：{a_zh}"},
    ]


def parse(text: str, question_tag: str = "问", answer_tag: str = "答") -> tuple[list[tuple[str, str]], int]:
    """Complete (question, answer) entries in the model's output, and how many incomplete ones were dropped.

    Tags match case-insensitively; other tags (the other language's) and untagged lines are ignored."""
    q_tag, a_tag = question_tag.lower(), answer_tag.lower()
    entries: list[tuple[str, str]] = []
    question: str | None = None
    incomplete = 0
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match or match.group(1).lower() not in (q_tag, a_tag):
            continue
        tag, value = match.group(1).lower(), match.group(2).strip().strip("*").strip()
        if tag == q_tag:
            incomplete += question is not None
            question = value or None
        else:
            if question is not None and value:
                entries.append((question, value))
            else:
                incomplete += 1
            question = None
    return entries, incomplete + (question is not None)


def check(draft: Draft, chunk: Chunk) -> str | None:
    """The first failed content check (duplicates are checked separately, against kept pairs)."""
    return (
        language_reason(draft.q_zh, draft.a_zh, draft.q_en, draft.a_en)
        or redacted_reason(" ".join((draft.q_zh, draft.a_zh, draft.q_en, draft.a_en)), chunk.text)
        or unsupported_reason(draft.q_zh, draft.a_zh, draft.q_en, draft.a_en, evidence(chunk))
    )


def model_label(settings: Settings) -> str:
    return Path(settings.llm_model_path).name if settings.llm_model_path else "default"


def _kept(s: Session) -> tuple[list[str], list[np.ndarray]]:
    rows = s.scalars(select(FaqPairRow).where(FaqPairRow.status != "rejected", FaqPairRow.retired.is_(False))
                     .order_by(FaqPairRow.key))
    keys, vectors = [], []
    for row in rows:
        keys.append(row.key)
        vectors.append(row_vectors(row))
    return keys, vectors


def _ask(llm: LLM, messages: list[Message], max_tokens: int) -> str:
    result = llm.generate(messages, max_tokens=max_tokens, temperature=0.0, timeout_s=GENERATION_TIMEOUT_S)
    if result.timed_out:
        raise TimeoutError
    return result.text


def _generate_chunk(chunk: Chunk, llm: LLM, max_tokens: int) -> tuple[list[Draft], int, str | None]:
    """(drafts, incomplete entries, failure) for one chunk: Chinese entries, each translated."""
    try:
        entries, incomplete = parse(_ask(llm, build_messages(chunk), max_tokens))
        drafts = []
        for q_zh, a_zh in entries:
            english, broken = parse(_ask(llm, translation_messages(q_zh, a_zh), max_tokens // 2), "q", "a")
            if english:
                drafts.append(Draft(english[0][0], english[0][1], q_zh, a_zh))
            incomplete += broken + (not english)
    except LLMError as exc:
        return [], 0, f"failed:{type(exc).__name__}"
    except TimeoutError:
        return [], 0, "failed:timeout"
    return drafts, incomplete, None


def generate(db_url: str | None = None, llm: LLM | None = None, limit: int | None = None,
             progress: bool = True, settings: Settings | None = None) -> GenerateReport:
    """Generate pairs for the chunks not done yet (at most ``limit`` of them) into the store."""
    settings = settings or load_settings()
    db_url = db_url or settings.db_url
    stored = require_index(db_url)
    chunks = stored.chunks
    report = GenerateReport(chunks=len(chunks))
    engine = open_store(db_url)
    label = model_label(settings)
    with disposing(engine):
        with transaction(engine) as s:
            report.retired, report.reattached = reconcile(s, chunks)
            done = {h for h, outcome in s.execute(select(FaqChunkRow.chunk_hash, FaqChunkRow.outcome))
                    if not outcome.startswith("failed")}
            write_meta(s, "prompt_version", PROMPT_VERSION)
            keys, vectors = _kept(s)
        seen: set[str] = set()
        todo = []
        for c in chunks:  # one entry per distinct content (identical sections share a hash)
            if c.content_hash in done or c.content_hash in seen:
                report.already_done += c.content_hash in done and c.content_hash not in seen
                seen.add(c.content_hash)
                continue
            seen.add(c.content_hash)
            todo.append(c)
        if limit is not None:
            todo = todo[:limit]
        llm = llm or get_llm()
        for chunk in tqdm(todo, desc="faq", unit="chunk", disable=not progress):
            _one_chunk(engine, chunk, llm, settings, label, report, keys, vectors)
    log.info("faq generate chunks=%d generated=%d proposed=%d rejected=%s retired=%d", report.chunks,
             report.generated, report.proposed, dict(report.rejected), report.retired)
    return report


def _one_chunk(engine, chunk: Chunk, llm: LLM, settings: Settings, label: str,
               report: GenerateReport, keys: list[str], vectors: list[np.ndarray]) -> None:
    reason = skip_reason(chunk)
    drafts: list[Draft] = []
    if reason:
        outcome = f"skipped:{reason}"
        report.skipped[reason] += 1
    else:
        drafts, incomplete, failure = _generate_chunk(chunk, llm, settings.faq_max_tokens)
        report.generated += 1
        report.rejected["malformed"] += incomplete
        outcome = failure or "generated"
        report.failed += failure is not None
    pair_vectors = question_vectors([(d.q_zh, d.q_en) for d in drafts])
    rows = []
    for ordinal, (draft, vecs) in enumerate(zip(drafts, pair_vectors, strict=True)):
        key = pair_key(chunk.content_hash, draft.q_zh, draft.q_en)
        problem = check(draft, chunk)
        if problem is None:
            twin = duplicate_of(vecs, np.array(vectors) if vectors else np.zeros((0, 2, 1)), keys,
                                settings.faq_dup_similarity)
            problem = f"duplicate: of {twin}" if twin and twin != key else None
        status = "rejected" if problem else "proposed"
        if problem:
            report.rejected[problem.split(":")[0]] += 1
        else:
            report.proposed += 1
            keys.append(key)
            vectors.append(vecs)
        pair = Pair(key, chunk.content_hash, chunk.file, chunk.heading, chunk.line_start, chunk.line_end,
                    ordinal, draft.q_zh, draft.a_zh, draft.q_en, draft.a_en, status, problem or "")
        rows.append((pair, vecs))
    with transaction(engine) as s:
        for pair, vecs in rows:
            if s.get(FaqPairRow, pair.key) is not None:
                report.kept_existing += 1  # a curated pair is never overwritten
                continue
            s.add(new_row(pair, vecs))
        s.merge(FaqChunkRow(chunk_hash=chunk.content_hash, file=chunk.file, heading=chunk.heading,
                            outcome=outcome, pairs=len(rows), model=label))
