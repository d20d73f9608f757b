"""Review FAQ pairs: change a status, edit a pair, export to a YAML review file and import it back.

The YAML file is the hand-editable form (and ``faq/faq.yml`` the curated set the repository ships):
a reviewer changes ``status``, rewrites a question or answer, and imports the file. An imported pair
whose text differs from the store's becomes ``edited`` unless the file says otherwise.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import select

from llm_fallback.faq.store import (
    STATUSES,
    FaqPairRow,
    Pair,
    find_row,
    new_row,
    open_store,
    ordered,
    question_vectors,
    read_meta,
    set_paraphrases,
    to_pair,
    write_meta,
)
from llm_fallback.knowledge.embed import MODEL_NAME
from llm_fallback.knowledge.store import StoreError, disposing, one_transaction, transaction

FILE_VERSION = 1
_HEADER = """\
# FAQ generated from the notes by the local LLM (python -m llm_fallback faq generate), then reviewed.
# Edit `status` (proposed | approved | rejected | edited) or the questions and answers, then:
#   python -m llm_fallback faq import THIS_FILE
# Only approved and edited pairs are served (proposed ones too with FAQ_SERVE_PROPOSED=true).
# `paraphrases` are other ways to ask a pair's question (faq paraphrase): the matcher compares
# questions with them too; delete one that asks something else.
"""


class ReviewError(StoreError):
    """A review file or command that cannot be applied; the message says what to fix."""


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int
    unchanged: int


def set_status(db_url: str, key: str, status: str, reason: str = "") -> Pair:
    if status not in STATUSES:
        raise ReviewError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
    with one_transaction(open_store(db_url)) as s:
        row = find_row(s, key)
        row.status = status
        row.reason = reason if status == "rejected" else ""
        return to_pair(row)


def edit_pair(db_url: str, key: str, **texts: str | None) -> Pair:
    """Replace some of q_zh, a_zh, q_en, a_en; the pair becomes ``edited`` (curated, never regenerated)."""
    changes = {name: value.strip() for name, value in texts.items() if value is not None}
    if not changes:
        raise ReviewError("nothing to edit: give --q-zh, --a-zh, --q-en or --a-en")
    if any(not value for value in changes.values()):
        raise ReviewError("a question or answer cannot be empty")
    with one_transaction(open_store(db_url)) as s:
        row = find_row(s, key)
        for name, value in changes.items():
            setattr(row, name, value)
        row.status, row.reason = "edited", ""
        if "q_zh" in changes or "q_en" in changes:
            row.vectors = question_vectors([(row.q_zh, row.q_en)])[0].tobytes()
            row.vector_model = MODEL_NAME
        return to_pair(row)


def get_pair(db_url: str, key: str) -> Pair:
    with one_transaction(open_store(db_url)) as s:
        return to_pair(find_row(s, key))


def counts(pairs: list[Pair]) -> dict[str, int]:
    """Pairs per status, and rejected pairs per check (``rejected:unsupported``...)."""
    result = Counter(p.status for p in pairs)
    result.update(f"rejected:{p.reason.split(':')[0]}" for p in pairs if p.status == "rejected" and p.reason)
    return dict(sorted(result.items()))


def _entry(pair: Pair) -> dict:
    entry = {"key": pair.key, "status": pair.status}
    if pair.reason:
        entry["reason"] = pair.reason
    if pair.retired:
        entry["retired"] = True
    entry["source"] = {"file": pair.file, "heading": pair.heading,
                       "lines": f"{pair.line_start}-{pair.line_end}", "chunk": pair.chunk_hash}
    entry["zh"] = {"q": pair.q_zh, "a": pair.a_zh}
    entry["en"] = {"q": pair.q_en, "a": pair.a_en}
    if pair.paraphrases:
        entry["paraphrases"] = list(pair.paraphrases)
    return entry


def export_yaml(db_url: str, path: Path, statuses: set[str] | None = None) -> int:
    """Write the pairs (all statuses, or ``statuses``) to ``path``; returns how many."""
    with one_transaction(open_store(db_url)) as s:
        pairs = [to_pair(r) for r in s.scalars(ordered(select(FaqPairRow)))]
        meta = read_meta(s)
    pairs = [p for p in pairs if statuses is None or p.status in statuses]
    document = {"version": FILE_VERSION, "prompt_version": meta.get("prompt_version", ""),
                "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "counts": counts(pairs), "pairs": [_entry(p) for p in pairs]}
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
    path.write_text(_HEADER + body, encoding="utf-8")
    return len(pairs)


def _parse_entry(entry: object, index: int) -> Pair:
    where = f"pairs[{index}]"
    if not isinstance(entry, dict):
        raise ReviewError(f"{where}: expected a mapping with key, status, source, zh, en")
    try:
        source, zh, en = entry["source"], entry["zh"], entry["en"]
        start, end = (int(n) for n in str(source["lines"]).split("-"))
        pair = Pair(str(entry["key"]), str(source["chunk"]), str(source["file"]),
                    str(source.get("heading", "")),
                    # The file's order is the reading order: it stands in for the generator's ordinal.
                    start, end, int(entry.get("ordinal", index)), str(zh["q"]).strip(), str(zh["a"]).strip(),
                    str(en["q"]).strip(), str(en["a"]).strip(), str(entry["status"]),
                    str(entry.get("reason", "")), bool(entry.get("retired", False)),
                    tuple(str(p).strip() for p in entry.get("paraphrases") or () if str(p).strip()))
    except (KeyError, TypeError, ValueError) as exc:
        raise ReviewError(f"{where}: missing or malformed field ({exc})") from exc
    if pair.status not in STATUSES:
        raise ReviewError(f"{where} ({pair.key}): unknown status {pair.status!r}: use {', '.join(STATUSES)}")
    if not all((pair.q_zh, pair.a_zh, pair.q_en, pair.a_en)):
        raise ReviewError(f"{where} ({pair.key}): a question or answer is empty")
    return pair


def _read_document(path: Path) -> dict:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ReviewError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("pairs"), list):
        raise ReviewError(f"{path}: expected a mapping with a `pairs` list (see `faq export`)")
    return document


def read_yaml(path: Path) -> list[Pair]:
    return [_parse_entry(entry, i) for i, entry in enumerate(_read_document(path)["pairs"])]


_TEXT_FIELDS = ("q_zh", "a_zh", "q_en", "a_en")


def import_yaml(db_url: str, path: Path) -> ImportReport:
    """Apply a review file: new pairs are added, known ones take the file's status, text and source.

    A pair whose text was changed in the file while its status still says ``proposed`` or
    ``approved`` becomes ``edited``: the change is a person's, and regeneration must keep it."""
    document = _read_document(path)
    pairs = [_parse_entry(entry, i) for i, entry in enumerate(document["pairs"])]
    engine = open_store(db_url)
    added = updated = unchanged = 0
    with disposing(engine), transaction(engine) as s:
        if document.get("prompt_version") and not read_meta(s).get("prompt_version"):
            write_meta(s, "prompt_version", str(document["prompt_version"]))
        known = select(FaqPairRow).where(FaqPairRow.key.in_([p.key for p in pairs]))
        rows = {r.key: r for r in s.scalars(known)}
        need_vectors = [p for p in pairs if p.key not in rows
                        or (rows[p.key].q_zh, rows[p.key].q_en) != (p.q_zh, p.q_en)]
        vectors = dict(zip((p.key for p in need_vectors),
                           question_vectors([(p.q_zh, p.q_en) for p in need_vectors]), strict=True))
        for pair in pairs:
            row = rows.get(pair.key)
            if row is None:
                s.add(new_row(pair, vectors[pair.key]))
                added += 1
                continue
            text_changed = any(getattr(row, f) != getattr(pair, f) for f in _TEXT_FIELDS)
            status = "edited" if text_changed and pair.status in ("proposed", "approved") else pair.status
            # Paraphrases are matching data, not the answer: changing them keeps the status.
            paraphrases_changed = to_pair(row).paraphrases != pair.paraphrases
            if paraphrases_changed:
                set_paraphrases(row, pair.paraphrases)
            # The chunk a pair stands on is renamed when the chunker names sections differently.
            source_changed = (row.chunk_hash, row.heading) != (pair.chunk_hash, pair.heading)
            if source_changed:
                row.chunk_hash, row.heading = pair.chunk_hash, pair.heading
            if not text_changed and (row.status, row.reason or "") == (status, pair.reason):
                updated += paraphrases_changed or source_changed
                unchanged += not (paraphrases_changed or source_changed)
                continue
            for name in _TEXT_FIELDS:
                setattr(row, name, getattr(pair, name))
            row.status, row.reason = status, pair.reason
            if pair.key in vectors:
                row.vectors, row.vector_model = vectors[pair.key].tobytes(), MODEL_NAME
            updated += 1
    return ImportReport(added, updated, unchanged)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_if_changed(db_url: str, path: Path) -> ImportReport | None:
    """Import the shipped FAQ file when it differs from the one last imported into this store.

    The file wins when it changes (a new release of the curated FAQ); otherwise local review
    decisions in the store stand. Returns None when nothing was imported."""
    if not path.is_file():
        return None
    digest = file_sha256(path)
    with one_transaction(open_store(db_url)) as s:
        if read_meta(s).get("imported_sha256") == digest:
            return None
    report = import_yaml(db_url, path)
    with one_transaction(open_store(db_url)) as s:
        write_meta(s, "imported_sha256", digest)
    return report
