"""``python -m llm_fallback``: index the notes, search them, write a redacted copy, recalibrate."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from llm_fallback.cli.faq import add_faq_commands as _add_faq
from llm_fallback.config import DEFAULT_CLINC, load_settings


class CliError(Exception):
    """Bad input: shown as one line, exit status 2."""


def _index(args: argparse.Namespace) -> None:
    from llm_fallback.knowledge.store import build_index

    settings = load_settings()
    notes = Path(args.notes) if args.notes else settings.notes_dir
    report = build_index(notes, args.db or settings.db_url, progress=True)
    print(f"indexed {report.documents} documents, {report.chunks} chunks "
          f"(embedded {report.embedded}, reused {report.reused}, removed {report.removed} documents) "
          f"in {report.seconds:.1f} s, generation {report.generation}")
    if not args.no_faq:
        from llm_fallback.faq.sync import sync

        synced = sync(args.db or settings.db_url, settings.faq_file)
        if synced.imported:
            i = synced.imported
            print(f"faq: loaded {settings.faq_file.name} (added {i.added}, updated {i.updated}, "
                  f"unchanged {i.unchanged})")
        if synced.retired or synced.reattached:
            print(f"faq: {synced.retired} pairs retired (source gone), "
                  f"{synced.reattached} moved to a changed chunk")


def _search(args: argparse.Namespace) -> None:
    from llm_fallback.knowledge.retrieve import get_retriever

    settings = load_settings()
    if args.db:
        settings = replace(settings, knowledge_db_url=args.db)
    hits = get_retriever(settings).search(args.question, k=args.k)
    if args.json:
        print(json.dumps([{"file": h.file, "heading": h.heading, "lines": h.lines, "score": round(h.score, 6),
                           "relevance": round(h.relevance, 4), "relevant": h.relevant, "text": h.text}
                          for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        print("no matching passage in the notes")
    for rank, hit in enumerate(hits, start=1):
        flag = "relevant" if hit.relevant else "weak"
        print(f"{rank}. {hit.sources_label()}  score={hit.score:.4f} relevance={hit.relevance:.2f} ({flag})")
        print("   " + hit.text[:200].replace("\n", "\n   "))


def _redact(args: argparse.Namespace) -> None:
    from llm_fallback.knowledge.ingest import read_notes
    from llm_fallback.text.redact import redact

    source, target = Path(args.in_dir), Path(args.out_dir)
    if source.resolve() == target.resolve():
        raise CliError("IN_DIR and OUT_DIR must differ: the originals are kept as they are")
    notes = read_notes(source, include_readme=True)
    total = 0
    for note in notes:
        result = redact(note.text)
        out = target / note.path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(result.text, encoding="utf-8")
        for finding in result.findings:
            print(f"{finding.kind}\t{note.path}:{finding.line}")
        total += len(result.findings)
    print(f"redacted {total} credentials in {len(notes)} files -> {target}")


def _calibrate(args: argparse.Namespace) -> None:
    from llm_fallback.knowledge.calibrate import (
        calibrate,
        clinc_out_of_scope,
        load_question_set,
        load_questions,
    )
    from llm_fallback.knowledge.retrieve import PARAMS_PATH, Params, Retriever
    from llm_fallback.knowledge.store import require_index

    settings = load_settings()
    stored = require_index(args.db or settings.db_url)
    questions = load_questions()
    for path in args.questions or []:
        questions += load_question_set(Path(path))
    clinc = Path(args.clinc) if args.clinc else DEFAULT_CLINC
    if clinc.is_file():
        questions += clinc_out_of_scope(clinc)
    retriever = Retriever(stored.chunks, stored.vectors, Params(), settings.jieba_userdict,
                          stored.sentence_vectors)
    report = calibrate(retriever, questions, PARAMS_PATH)
    p = report.params
    print(f"fusion: rrf_k={p.rrf_k} w_dense={p.w_dense} w_translation={p.w_translation} "
          f"(hit@5 {report.hit_at_5:.2f}, MRR {report.mrr:.3f} on {report.answerable} answerable questions)")
    print(f"relevance: coef={p.coef} intercept={p.intercept} threshold={p.threshold}; wrong side: "
          f"{report.wrong_side_answerable}/{report.answerable} answerable, "
          f"{report.wrong_side_out_of_scope}/{report.out_of_scope} out of scope")
    print(f"written to {PARAMS_PATH}")


def _ask(args: argparse.Namespace) -> None:
    from llm_fallback.routing import ask_command

    print(ask_command(args.question, as_json=args.json, after=args.after))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m llm_fallback", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="(re)index the notes into the knowledge store")
    index.add_argument("--notes", help="notes directory (default: NOTES_DIR or notes/)")
    index.add_argument("--db", help="SQLAlchemy URL (default: KNOWLEDGE_DB_URL or var/knowledge.db)")
    index.add_argument("--no-faq", action="store_true", help="do not load the shipped FAQ file (faq/faq.yml)")
    index.set_defaults(run=_index)

    search = commands.add_parser("search", help="search the indexed notes")
    search.add_argument("question")
    search.add_argument("--k", type=int, default=5, help="number of hits (default 5)")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.add_argument("--db", help="SQLAlchemy URL of the knowledge store")
    search.set_defaults(run=_search)

    redact = commands.add_parser("redact", help="write a redacted copy of a notes directory")
    redact.add_argument("in_dir")
    redact.add_argument("out_dir")
    redact.set_defaults(run=_redact)

    calibrate = commands.add_parser("calibrate", help="refit fusion weights and the relevance model")
    calibrate.add_argument("--db", help="SQLAlchemy URL of the knowledge store")
    calibrate.add_argument("--clinc", help=f"CLINC150 data_full.json (default: {DEFAULT_CLINC} if present)")
    calibrate.add_argument("--questions", action="append",
                           help="also a question set in tests/e2e_questions' format (repeatable; never "
                                "the held-out file)")
    calibrate.set_defaults(run=_calibrate)

    ask = commands.add_parser("ask", help="answer a question from the notes (retrieval + local LLM)")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print JSON with route, sources and timings")
    ask.add_argument("--after", metavar="QUESTION",
                     help="the question asked just before: QUESTION is then read as its follow-up")
    ask.set_defaults(run=_ask)
    _add_faq(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from llm_fallback.cli.faq import FaqCliError
    from llm_fallback.knowledge.store import IndexNotBuiltError, StoreError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter is not ours to show
    try:
        args.run(args)
    except (CliError, FaqCliError, StoreError, IndexNotBuiltError, FileNotFoundError,
            NotADirectoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
