"""``python -m llm_fallback faq ...``: generate FAQ pairs, review them, export and import the review file."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

from llm_fallback.config import DEFAULT_CLINC, load_settings


class FaqCliError(Exception):
    """Bad input to a faq command: one line, exit status 2."""


def _db(args: argparse.Namespace) -> str:
    return args.db or load_settings().db_url


def _generate(args: argparse.Namespace) -> None:
    from llm_fallback.faq.generate import generate

    if args.limit is not None and args.limit < 1:
        raise FaqCliError("--limit must be at least 1")
    r = generate(_db(args), limit=args.limit, progress=not args.quiet)
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(r.skipped.items())) or "none"
    rejected = ", ".join(f"{n} {why}" for why, n in sorted(r.rejected.items()) if n) or "none"
    print(f"chunks: {r.chunks} in the index, {r.already_done} done before, {r.generated} generated now, "
          f"skipped {skipped}, {r.failed} failed")
    print(f"pairs: {r.proposed} proposed, rejected {rejected}, {r.kept_existing} already stored; "
          f"{r.retired} retired, {r.reattached} moved to a changed chunk")


def _paraphrase(args: argparse.Namespace) -> None:
    from llm_fallback.faq.paraphrase import paraphrase

    if args.limit is not None and args.limit < 1:
        raise FaqCliError("--limit must be at least 1")
    r = paraphrase(_db(args), limit=args.limit, progress=not args.quiet)
    dropped = ", ".join(f"{n} {why}" for why, n in sorted(r.dropped.items())) or "none"
    print(f"pairs: {r.pairs} served, {r.already_done} had paraphrases, {r.paraphrased} paraphrased now, "
          f"{r.failed} failed")
    print(f"paraphrases: {r.kept} kept, dropped {dropped}")


def _fit(args: argparse.Namespace) -> None:
    from llm_fallback.faq.fit import fit
    from llm_fallback.faq.match import PARAMS_PATH, FaqMatcher, MatchParams, load_served

    settings = load_settings()
    pairs, vectors, paraphrase_vectors = load_served(_db(args), settings.faq_serve_proposed)
    if not pairs:
        raise FaqCliError("no served FAQ pairs to fit on: approve pairs or import faq/faq.yml first")
    matcher = FaqMatcher(pairs, vectors, paraphrase_vectors, MatchParams(), userdict=settings.jieba_userdict)
    r = fit(matcher, Path(args.clinc) if args.clinc else DEFAULT_CLINC)
    print(f"fitted on {r.rewordings} rewordings of {r.pairs} pairs, {r.not_faq} not-FAQ questions and "
          f"{r.oos_queries} out-of-scope queries -> {PARAMS_PATH.name}, threshold {r.threshold}")
    print(f"cross-validated: pair ranked first {r.ranked_first:.1%}; routed right {r.routed_right:.1%}, "
          f"wrong {r.routed_wrong:.1%}; not-FAQ captured {r.captured:.1%}, out-of-scope {r.oos_captured:.1%}")


def _print_pair(pair, full: bool = True) -> None:
    flag = " (retired)" if pair.retired else ""
    lines = f"lines {pair.line_start}-{pair.line_end}"
    print(f"{pair.key}  [{pair.status}{flag}]  {pair.file} › {pair.heading} ({lines})")
    if pair.reason:
        print(f"  reason: {pair.reason}")
    if full:
        for label, text in (("问", pair.q_zh), ("答", pair.a_zh), ("Q", pair.q_en), ("A", pair.a_en)):
            print(textwrap.indent(textwrap.fill(text, 100, subsequent_indent="   "), "  ").replace(
                "  ", f"  {label}: ", 1))
        for text in pair.paraphrases:
            print(f"  ~  {text}")
    else:
        print(f"  {pair.q_zh}  |  {pair.q_en}")


def _list(args: argparse.Namespace) -> None:
    from llm_fallback.faq.review import counts
    from llm_fallback.faq.store import STATUSES, list_pairs

    if args.status and args.status not in STATUSES:
        raise FaqCliError(f"unknown status {args.status!r}: use one of {', '.join(STATUSES)}")
    pairs = list_pairs(_db(args), args.status, include_retired=args.retired)
    if args.json:
        print(json.dumps([p.to_json() for p in pairs], ensure_ascii=False, indent=2))
        return
    for pair in pairs:
        _print_pair(pair, full=False)
    summary = ", ".join(f"{n} {name}" for name, n in counts(pairs).items())
    print(f"{len(pairs)} pairs" + (f": {summary}" if summary else ""))


def _show(args: argparse.Namespace) -> None:
    from llm_fallback.faq.review import get_pair

    pair = get_pair(_db(args), args.key)
    if args.json:
        print(json.dumps(pair.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_pair(pair)


def _set_status(status: str):
    def run(args: argparse.Namespace) -> None:
        from llm_fallback.faq.review import set_status

        for key in args.keys:
            reason = f"reviewer: {args.reason}" if status == "rejected" else ""
            pair = set_status(_db(args), key, status, reason)
            print(f"{pair.key} {status}")
    return run


def _edit(args: argparse.Namespace) -> None:
    from llm_fallback.faq.review import edit_pair

    texts = {"q_zh": args.q_zh, "a_zh": args.a_zh, "q_en": args.q_en, "a_en": args.a_en}
    _print_pair(edit_pair(_db(args), args.key, **texts))


def _export(args: argparse.Namespace) -> None:
    from llm_fallback.faq.review import export_yaml

    statuses = set(args.status) if args.status else None
    n = export_yaml(_db(args), Path(args.file), statuses)
    print(f"exported {n} pairs to {args.file}")


def _import(args: argparse.Namespace) -> None:
    from llm_fallback.faq.review import import_yaml

    path = Path(args.file)
    if not path.is_file():
        raise FaqCliError(f"review file not found: {path}")
    r = import_yaml(_db(args), path)
    print(f"imported {path}: {r.added} added, {r.updated} updated, {r.unchanged} unchanged "
          "(restart the action server to serve the changes)")


def add_faq_commands(commands: argparse._SubParsersAction) -> None:
    faq = commands.add_parser("faq", help="generated FAQ: generate, review, export/import")
    sub = faq.add_subparsers(dest="faq_command", required=True)

    def command(name: str, run, help_text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text)
        parser.add_argument("--db", help="SQLAlchemy URL of the knowledge store")
        parser.set_defaults(run=run)
        return parser

    gen = command("generate", _generate, "propose pairs for the chunks not done yet (resumable, incremental)")
    gen.add_argument("--limit", type=int, help="at most N chunks in this run")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")

    par = command("paraphrase", _paraphrase,
                  "write other phrasings of the served questions, for matching (resumable)")
    par.add_argument("--limit", type=int, help="at most N pairs in this run")
    par.add_argument("--quiet", action="store_true", help="no progress bar")

    fit = command("fit", _fit, "fit the matcher's scorer on people's questions (faq/dev_questions.yml)")
    fit.add_argument("--clinc",
                     help=f"CLINC150 data_full.json for out-of-scope examples (default: {DEFAULT_CLINC})")

    lst = command("list", _list, "list pairs (not retired ones unless --retired)")
    lst.add_argument("--status", help="proposed | approved | rejected | edited")
    lst.add_argument("--retired", action="store_true", help="include retired pairs")
    lst.add_argument("--json", action="store_true", help="print JSON")

    show = command("show", _show, "show one pair")
    show.add_argument("key", help="pair key (a unique prefix of 4+ characters is enough)")
    show.add_argument("--json", action="store_true")

    approve = command("approve", _set_status("approved"), "approve pairs (served from now on)")
    approve.add_argument("keys", nargs="+")
    reject = command("reject", _set_status("rejected"), "reject pairs")
    reject.add_argument("keys", nargs="+")
    reject.add_argument("--reason", default="rejected in review", help="recorded with the pair")

    edit = command("edit", _edit, "rewrite a question or answer (status becomes edited)")
    edit.add_argument("key")
    for side in ("q-zh", "a-zh", "q-en", "a-en"):
        edit.add_argument(f"--{side}")

    exp = command("export", _export, "write a YAML review file")
    exp.add_argument("file")
    exp.add_argument("--status", action="append", help="only this status (repeatable)")
    imp = command("import", _import, "apply an edited YAML review file")
    imp.add_argument("file")
