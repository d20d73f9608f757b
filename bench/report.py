"""One self-contained HTML page of the evaluation results in reports/, plots inline (base64 PNG).

    .venv-rasa/bin/python -m bench.report [--inputs reports/] [--out reports/index.html]
    .venv/bin/python -m bench.report --check [--out reports/index.html]   # open it in headless Chromium

Each section reads what one evaluation step writes under --inputs, and says "not run", with the
command that writes it, when that is missing:
1. nlu-test/: `rasa test nlu` on the held-out messages (tests/nlu_test.yml): F1 per intent, worst
   first, accuracy, macro F1, the entities' micro F1, and Rasa's confusion matrix;
2. nlu-cv/: `rasa test nlu --cross-validation` (5 folds) on data/nlu.yml: the intents, the same way;
3. clinc150/clinc150.json (bench/clinc150.py): both operating points beside the earlier runs and the
   paper's Table 2 (Full columns), and the threshold curve;
4. e2e.json (bench/e2e.py --json): accuracy per kind, the route confusion matrix and latency per route;
5. conversations.json (bench/conversations.py --json): last-turn accuracy per kind;
6. answer.json (bench/answer.py --json): pass rate per kind and the TTFT distribution;
7. retrieval: bench/retrieval.py only prints, so the page can only name its command.

The page is built under .venv-rasa (matplotlib); without matplotlib the tables come without plots.
`--check` runs under .venv (selenium, Debian's chromium and chromedriver: `make browser`): the page's
title, every section's heading, and every image decoded; exit status 1 when any of them is wrong.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
PAPER_TABLE = ROOT.parent / "shared" / "bench" / "clinc150" / "table2_larson2019.json"
TITLE = "Notes assistant: evaluation report"
SECTION_TITLES = {
    "nlu-test": "1. NLU on held-out messages",
    "nlu-cv": "2. NLU 5-fold cross-validation",
    "clinc150": "3. CLINC150",
    "e2e": "4. Questions through the REST webhook",
    "conversations": "5. Conversations",
    "answer": "6. Answer bench",
    "retrieval": "7. Retrieval hit@k",
}
# sklearn's summary rows in Rasa's reports, beside the per-label ones.
SUMMARY_KEYS = {"accuracy", "macro avg", "weighted avg", "micro avg"}
# bench.e2e.NOTES_FAMILY. bench.e2e cannot be imported here: it pulls in llm_fallback, which needs
# Python 3.11 (datetime.UTC), and this page is built under .venv-rasa's 3.10 for matplotlib. Its
# report() only prints anyway, so the figures are computed again from the records below.
NOTES_FAMILY = {"notes", "faq"}
# Kinds the notes pipeline does not answer in bench.answer (skills do): shown, marked informational.
SKILL_KINDS = {"task", "skill"}

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: .2em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.bad { background: #fde2e2; } td.zero { color: #bbb; }
.not-run { color: #8a5a00; background: #fff6e0; padding: .4em .8em; }
.error { color: #a00; background: #fde2e2; padding: .4em .8em; }
img { max-width: 100%; border: 1px solid #eee; }
code { background: #f4f4f4; padding: 0 .2em; }
"""


@dataclass(frozen=True)
class Cell:
    """A table cell: its text (escaped when rendered) and an optional CSS class."""

    text: str
    cls: str = ""


@dataclass(frozen=True)
class Section:
    key: str
    body: str  # HTML
    ran: bool
    error: str | None = None

    @property
    def title(self) -> str:
        return SECTION_TITLES[self.key]


@dataclass(frozen=True)
class Header:
    commit: str
    date: str
    machine: str


@dataclass(frozen=True)
class LabelRow:
    """One intent's (or entity's) line of a Rasa report."""

    name: str
    f1: float
    precision: float
    recall: float
    support: int
    confused_with: dict[str, int]


# ---------------------------------------------------------------- header


def git_commit(root: Path = ROOT) -> str:
    """The short commit, marked when the work tree differs from it (the figures may not be its)."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True,
                                text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git work tree)"
    return f"{head} + uncommitted changes" if status.strip() else head


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def total_ram_gib(meminfo: Path = Path("/proc/meminfo")) -> float | None:
    try:
        for line in meminfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_description() -> str:
    ram = total_ram_gib()
    ram_text = f"{ram:.1f} GiB RAM" if ram is not None else "RAM unknown"
    return f"{socket.gethostname()}, {os.cpu_count()} cores, {cpu_model()}, {ram_text}"


def collect_header(root: Path = ROOT) -> Header:
    # time.gmtime rather than datetime.UTC, which Python 3.10 lacks.
    return Header(git_commit(root), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), machine_description())


# ---------------------------------------------------------------- HTML pieces


def esc(value: object) -> str:
    return html.escape(str(value))


def table(head: Iterable[str], rows: Iterable[Iterable[str | Cell]]) -> str:
    """An HTML table; plain strings that read as numbers are right-aligned."""
    out = ["<table><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out.append("<tr>")
        for cell in row:
            c = cell if isinstance(cell, Cell) else Cell(cell, "num" if _numeric(cell) else "")
            out.append(f'<td class="{esc(c.cls)}">{esc(c.text)}</td>' if c.cls else f"<td>{esc(c.text)}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _numeric(text: str) -> bool:
    try:
        float(text.rstrip("%").split("/")[0].split(" ")[0])
    except ValueError:
        return False
    return True


def para(text: str) -> str:
    return f"<p>{esc(text)}</p>"


def not_run(command: str) -> str:
    return f'<p class="not-run">not run: <code>{esc(command)}</code></p>'


def img(png_base64: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{png_base64}" alt="{esc(alt)}">'


def embed_png(path: Path, alt: str) -> str:
    """The PNG a step wrote, inline; a note when that step drew none (e.g. `--no-plot`)."""
    if not path.is_file():
        return para(f"({path.name}: not written by that run)")
    return img(base64.b64encode(path.read_bytes()).decode("ascii"), alt)


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def fraction(part: int, whole: int) -> str:
    return f"{part}/{whole} ({percent(part, whole)})"


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def display_path(path: Path) -> str:
    """`path` as a command typed at the project's root would name it."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def read_json(path: Path) -> object | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


# ---------------------------------------------------------------- plots (optional)


def _pyplot():
    """matplotlib's pyplot on the Agg backend, or None where matplotlib is not installed (.venv)."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(plt, fig) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def latency_box_plot(seconds_by_route: dict[str, list[float]], title: str) -> str | None:
    """Box plot of latency per route (base64 PNG), or None without matplotlib or data."""
    plt = _pyplot()
    if plt is None or not seconds_by_route:
        return None
    routes = sorted(seconds_by_route)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(routes) + 1.5))
    ax.boxplot([seconds_by_route[r] for r in routes], vert=False)
    ax.set_yticks(range(1, len(routes) + 1))
    ax.set_yticklabels([f"{r} (n={len(seconds_by_route[r])})" for r in routes])
    # Canned replies take milliseconds and model answers tens of seconds: only a log axis shows both.
    if min(min(v) for v in seconds_by_route.values()) > 0:
        ax.set_xscale("log")
    ax.set_xlabel("seconds")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _png(plt, fig)


def histogram(values_by_label: dict[str, list[float]], title: str, xlabel: str) -> str | None:
    """Histogram (one series per label) as base64 PNG, or None without matplotlib or data."""
    plt = _pyplot()
    series = {label: values for label, values in values_by_label.items() if values}
    if plt is None or not series:
        return None
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.hist(list(series.values()), bins=20, label=list(series), alpha=0.8)
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("questions")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _png(plt, fig)


# ---------------------------------------------------------------- 1, 2: Rasa's NLU reports


def label_rows(report: dict) -> list[LabelRow]:
    """Per-label lines of a Rasa report (intent or entity), worst F1 first."""
    rows = [LabelRow(name, m["f1-score"], m["precision"], m["recall"], int(m["support"]),
                     m.get("confused_with") or {})
            for name, m in report.items() if name not in SUMMARY_KEYS and isinstance(m, dict)]
    return sorted(rows, key=lambda r: (r.f1, r.name))


def label_table(rows: list[LabelRow], label: str) -> str:
    def confusions(row: LabelRow) -> str:
        top = sorted(row.confused_with.items(), key=lambda kv: -kv[1])[:3]
        return ", ".join(f"{name} ({n})" for name, n in top)

    return table([label, "F1", "precision", "recall", "support", "confused with"],
                 [[row.name, fmt(row.f1), fmt(row.precision),
                   fmt(row.recall), str(row.support), confusions(row)] for row in rows])


def accuracy_line(report: dict) -> str:
    accuracy = report.get("accuracy")
    macro = (report.get("macro avg") or {}).get("f1-score")
    weighted = (report.get("weighted avg") or {}).get("f1-score")
    support = (report.get("macro avg") or {}).get("support")
    return para(f"accuracy {fmt(accuracy)}, macro F1 {fmt(macro)}, weighted F1 {fmt(weighted)}"
                + (f" over {support} messages" if support is not None else ""))


def nlu_section(key: str, folder: Path, command: str, with_entities: bool) -> Section:
    report = read_json(folder / "intent_report.json")
    if report is None:
        return Section(key, not_run(command), ran=False)
    parts = [accuracy_line(report), "<h3>Intents (worst F1 first)</h3>",
             label_table(label_rows(report), "intent")]
    if with_entities:
        entities = read_json(folder / "DIETClassifier_report.json")
        parts.append("<h3>Entities (DIETClassifier)</h3>")
        if entities is None:
            parts.append(para("no DIETClassifier_report.json: that run evaluated no entities"))
        else:
            micro = entities.get("micro avg") or {}
            parts.append(para(f"micro F1 {fmt(micro.get('f1-score'))} "
                              f"(precision {fmt(micro.get('precision'))}, recall {fmt(micro.get('recall'))}, "
                              f"support {micro.get('support', '-')})"))
            parts.append(label_table(label_rows(entities), "entity"))
    parts.append("<h3>Intent confusion matrix</h3>")
    parts.append(embed_png(folder / "intent_confusion_matrix.png", f"{key} intent confusion matrix"))
    return Section(key, "".join(parts), ran=True)


# ---------------------------------------------------------------- 3: CLINC150


def clinc150_section(folder: Path, paper_path: Path, command: str) -> Section:
    result = read_json(folder / "clinc150.json")
    if result is None:
        return Section("clinc150", not_run(command), ran=False)
    parts = []
    if result.get("per_intent"):
        parts.append(f'<p class="error">trained on the first {esc(result["per_intent"])} examples of each '
                     "intent only (a quick look, not the figures to report)</p>")
    parse = result.get("parse_ms") or {}
    parts.append(para(f"config {result.get('config', '?')}, DIET epochs {result.get('epochs') or 'config'}, "
                      f"training {fmt(result.get('train_min'), 1)} min, parse median "
                      f"{fmt(parse.get('median'), 1)} ms, p95 {fmt(parse.get('p95'), 1)} ms"))
    rows = []
    for name, key in (("this pipeline, config.yml's thresholds", "at_config_threshold"),
                      ("this pipeline, thresholds chosen on val", "at_val_threshold"),
                      ("chosen on val for oos recall ≥ 60", "at_val_threshold_for_oos_recall_floor"),
                      (f"chosen on val, ≤ {result.get('in_scope_flagged_ceiling', '?')}% of in-scope flagged",
                       "at_val_threshold_for_flagged_ceiling"),
                      ("best on test with oos recall ≥ 60 (upper bound)", "best_with_oos_recall_floor")):
        f = result.get(key)
        if not f:
            continue
        rows.append([name, fmt(f["threshold"], 2), fmt(f.get("ambiguity"), 2),
                     fmt(f["in_scope_accuracy"], 1), fmt(f["oos_recall"], 1), fmt(f["oos_precision"], 1),
                     fmt(f["in_scope_flagged"], 1), fmt(result.get("train_min"), 1)])
    for name, row in (result.get("earlier") or {}).items():
        rows.append([f"earlier: {name}", "", "", fmt(row["in_scope"], 1), fmt(row["oos_recall"], 1), "", "",
                     str(row.get("train_min", ""))])
    paper = read_json(paper_path)
    if paper is None:
        parts.append(para(f"(the paper's Table 2 is not at {paper_path})"))
    else:
        full = paper.get("columns", ["Full"]).index("Full")
        for approach in ("oos_train", "oos_threshold"):
            for name, row in paper[approach].items():
                rows.append([f"paper: {name} ({approach})", "", "", fmt(row["in_scope"][full], 1),
                             fmt(row["oos"][full], 1), "", "", ""])
    parts.append(table(["", "threshold", "ambiguity", "in-scope accuracy %", "oos recall %",
                        "oos precision %", "in-scope flagged %", "training min"], rows))
    if paper is not None and paper.get("note"):
        parts.append(para(f"Paper: {paper.get('source', '')}. {paper['note']}"))
    parts.append(embed_png(folder / "clinc150_threshold.png", "CLINC150 threshold trade-off"))
    return Section("clinc150", "".join(parts), ran=True)


# ---------------------------------------------------------------- 4, 5, 6: the benches' records


def kind_accuracy_rows(records: list[dict], ok: Callable[[dict], bool]) -> list[list[str]]:
    """One row per kind, in the order the kinds first appear (the question files' order)."""
    rows = []
    for kind in dict.fromkeys(r["kind"] for r in records):
        group = [r for r in records if r["kind"] == kind]
        rows.append([kind, fraction(sum(ok(r) for r in group), len(group))])
    return rows


def by_split(records: list[dict]) -> dict[str, list[dict]]:
    return {split: [r for r in records if r.get("split") == split]
            for split in sorted({r.get("split", "") for r in records})}


def route_matrix(records: list[dict]) -> str:
    """Expected route (rows) against the route taken (columns); cells holding a confusion shaded."""
    counts = Counter((r["expected"], r["taken"]) for r in records)
    confused = {(r["expected"], r["taken"]) for r in records if r.get("confused")}
    taken = sorted({t for _, t in counts})
    rows = []
    for expected in sorted({e for e, _ in counts}):
        row: list[str | Cell] = [expected]
        for t in taken:
            n = counts[(expected, t)]
            row.append(Cell(str(n), "num bad" if (expected, t) in confused else "num" if n else "num zero"))
        rows.append(row)
    return table(["expected \\ taken", *taken], rows)


def latency_rows(seconds_by_label: dict[str, list[float]]) -> list[list[str]]:
    return [[label, str(len(s)), fmt(statistics.median(s), 2), fmt(percentile(s, 0.95), 2), fmt(max(s), 2)]
            for label, s in sorted(seconds_by_label.items()) if s]


def e2e_section(path: Path, command: str) -> Section:
    records = read_json(path)
    if records is None:
        return Section("e2e", not_run(command), ran=False)
    if not records:
        return Section("e2e", para(f"{path.name} holds no records"), ran=True)
    parts = []
    for split, rows in by_split(records).items():
        ok = sum(r["correct"] for r in rows)
        parts.append(f"<h3>{esc(split or 'questions')}: {esc(fraction(ok, len(rows)))} correct</h3>")
        parts.append(table(["kind", "correct"], kind_accuracy_rows(rows, lambda r: r["correct"])))
        notes = [r for r in rows if r["expected"] in NOTES_FAMILY]
        if notes:
            parts.append(para(f"notes questions (all notes kinds): "
                              f"{fraction(sum(r['correct'] for r in notes), len(notes))}; "
                              f"false 'not covered': "
                              f"{fraction(sum(r['taken'] == 'not_covered' for r in notes), len(notes))}"))
        n_confused = sum(bool(r.get("confused")) for r in rows)
        parts.append(para(f"route confusion: {fraction(n_confused, len(rows))} "
                          "(shaded: a factual question answered by a skill, form or canned reply, or a skill "
                          "request by the notes)"))
        parts.append(route_matrix(rows))
    seconds: dict[str, list[float]] = {}
    for record in records:
        seconds.setdefault(record["taken"], []).append(record["seconds"])
    parts.append("<h3>Latency per route taken (s)</h3>")
    parts.append(table(["route", "n", "median", "p95", "max"], latency_rows(seconds)))
    plot = latency_box_plot(seconds, "latency per route taken")
    if plot:
        parts.append(img(plot, "latency per route"))
    return Section("e2e", "".join(parts), ran=True)


def conversations_section(path: Path, command: str) -> Section:
    records = read_json(path)
    if records is None:
        return Section("conversations", not_run(command), ran=False)
    if not records:
        return Section("conversations", para(f"{path.name} holds no records"), ran=True)
    parts = []
    for split, rows in by_split(records).items():
        ok = sum(r["correct"] for r in rows)
        title = f"{split or 'conversations'}: last turn {fraction(ok, len(rows))} correct"
        parts.append(f"<h3>{esc(title)}</h3>")
        parts.append(table(["kind", "last turn correct"], kind_accuracy_rows(rows, lambda r: r["correct"])))
        alone = [r for r in rows if r.get("standalone_correct") is not None]
        if alone:
            parts.append(para(f"the same questions standalone: "
                              f"{fraction(sum(r['standalone_correct'] for r in alone), len(alone))} vs in "
                              f"conversation {fraction(sum(r['correct'] for r in alone), len(alone))}"))
        changes = [r for r in rows if r["kind"] in ("topic_change", "restart")]
        if changes:
            parts.append(para(f"topic changes that inherited context: "
                              f"{sum(bool(r.get('inherited')) for r in changes)}/{len(changes)}"))
    median, p95 = _median_p95([r["seconds"] for r in records])
    parts.append(para(f"last-turn latency: median {median} s, p95 {p95} s"))
    return Section("conversations", "".join(parts), ran=True)


def answer_section(path: Path, command: str) -> Section:
    records = read_json(path)
    if records is None:
        return Section("answer", not_run(command), ran=False)
    if not records:
        return Section("answer", para(f"{path.name} holds no records"), ran=True)
    # With several --budgets every question is asked once per budget: one group each.
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(",".join(map(str, record.get("budgets") or [])) or "default", []).append(record)
    parts = []
    for budgets, rows in groups.items():
        parts.append(f"<h3>passage budgets {esc(budgets)}</h3>")
        kinds = [[kind, passed, "informational: skills answer these, not this pipeline" if kind in SKILL_KINDS
                  else ""] for kind, passed in kind_accuracy_rows(rows, lambda r: r["pass"])]
        parts.append(table(["kind", "pass", ""], kinds))
        generated = [r for r in rows if "prompt_tokens" in r]
        ttfts = [r["ttft_s"] for r in generated if r.get("ttft_s")]
        timing = [["latency (s)", str(len(generated)), *(_median_p95([r["seconds"] for r in generated]))],
                  ["TTFT (s)", str(len(ttfts)), *_median_p95(ttfts)]]
        parts.append(table(["LLM-routed questions", "n", "median", "p95"], timing))
    plot = histogram({budgets: [r["ttft_s"] for r in rows if "prompt_tokens" in r and r.get("ttft_s")]
                      for budgets, rows in groups.items()}, "time to first token", "seconds")
    if plot:
        parts.append(img(plot, "TTFT histogram"))
    return Section("answer", "".join(parts), ran=True)


def _median_p95(values: list[float]) -> list[str]:
    return [fmt(statistics.median(values), 2), fmt(percentile(values, 0.95), 2)] if values else ["-", "-"]


def retrieval_section() -> Section:
    return Section("retrieval", not_run(".venv/bin/python -m bench.retrieval")
                   + para("bench/retrieval.py prints hit@1/3/5 and MRR but writes no file this page could "
                          "read; the figures are in its output only."), ran=False)


# ---------------------------------------------------------------- the page


def commands(inputs: Path) -> dict[str, str]:
    """The command that writes each section's input, with --inputs as its output folder."""
    out = display_path(inputs)
    stack = "RASA_API=on RASA_AUTH_TOKEN=secret make run (in another terminal), then RASA_AUTH_TOKEN=secret"
    return {
        "nlu-test": f".venv-rasa/bin/rasa test nlu --nlu tests/nlu_test.yml --out {out}/nlu-test",
        "nlu-cv": f".venv-rasa/bin/rasa test nlu --nlu data/nlu.yml --cross-validation --folds 5 "
                  f"--out {out}/nlu-cv",
        "clinc150": f".venv-rasa/bin/python -m bench.clinc150 --out {out}/clinc150",
        "e2e": f"{stack} .venv/bin/python -m bench.e2e --split heldout --json {out}/e2e.json",
        "conversations": f"{stack} .venv/bin/python -m bench.conversations --split heldout "
                         f"--json {out}/conversations.json",
        "answer": f".venv/bin/python -m bench.answer --json {out}/answer.json",
    }


def build_sections(inputs: Path, paper_path: Path = PAPER_TABLE) -> list[Section]:
    cmd = commands(inputs)
    builders: dict[str, Callable[[], Section]] = {
        "nlu-test": lambda: nlu_section("nlu-test", inputs / "nlu-test", cmd["nlu-test"], with_entities=True),
        "nlu-cv": lambda: nlu_section("nlu-cv", inputs / "nlu-cv", cmd["nlu-cv"], with_entities=False),
        "clinc150": lambda: clinc150_section(inputs / "clinc150", paper_path, cmd["clinc150"]),
        "e2e": lambda: e2e_section(inputs / "e2e.json", cmd["e2e"]),
        "conversations": lambda: conversations_section(inputs / "conversations.json", cmd["conversations"]),
        "answer": lambda: answer_section(inputs / "answer.json", cmd["answer"]),
        "retrieval": retrieval_section,
    }
    sections = []
    for key, build in builders.items():
        try:
            sections.append(build())
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            # One malformed result file (an older format, a half-written run) costs its own section,
            # shown as such and in the exit status, not the whole page.
            message = f"{type(exc).__name__}: {exc}"
            sections.append(Section(key, f'<p class="error">could not read its input: {esc(message)}</p>',
                                    ran=False, error=message))
    return sections


def render(header: Header, sections: list[Section], inputs: Path) -> str:
    contents = "".join(
        f'<li><a href="#{esc(s.key)}">{esc(s.title)}</a>: '
        f"{'error' if s.error else 'shown' if s.ran else 'not run'}</li>" for s in sections)
    body = "".join(f'<section id="{esc(s.key)}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(TITLE)}</title>'
        f"<style>{CSS}</style></head><body><h1>{esc(TITLE)}</h1>"
        f'<table class="header"><tr><th>commit</th><td id="commit">{esc(header.commit)}</td></tr>'
        f"<tr><th>date</th><td>{esc(header.date)}</td></tr>"
        f"<tr><th>machine</th><td>{esc(header.machine)}</td></tr>"
        f"<tr><th>inputs</th><td>{esc(display_path(inputs))}</td></tr></table>"
        f"<ul>{contents}</ul>{body}</body></html>\n"
    )


def build_page(inputs: Path, header: Header, paper_path: Path = PAPER_TABLE) -> tuple[str, list[Section]]:
    sections = build_sections(inputs, paper_path)
    return render(header, sections, inputs), sections


# ---------------------------------------------------------------- --check


def _which(*names: str) -> str | None:
    return next((path for path in map(shutil.which, names) if path), None)


def check(page: Path) -> list[str]:
    """Open `page` in headless Chromium; print each check and return the failures."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    if not page.is_file():
        return [f"{page} does not exist: build it first"]
    chromium, chromedriver = _which("chromium", "chromium-browser"), _which("chromedriver")
    if not chromium or not chromedriver:
        return ["chromium or chromedriver not found: `make browser` installs Debian's"]
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1024"):
        options.add_argument(arg)
    # A profile of its own, removed afterwards: Chromium would leave its temporary one behind in /tmp.
    profile = tempfile.TemporaryDirectory(prefix="report-check-")
    options.add_argument(f"--user-data-dir={profile.name}")
    driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    failures = []
    try:
        driver.get(page.resolve().as_uri())
        failures += _expect("title", driver.title, driver.title == TITLE)
        headings = [h.text.strip() for h in driver.find_elements(By.TAG_NAME, "h2")]
        for title in SECTION_TITLES.values():
            failures += _expect("section heading", title, title in headings)
        commit = driver.find_elements(By.ID, "commit")
        failures += _expect("commit", commit[0].text if commit else "(none)", bool(commit and commit[0].text))
        # Data-URI images decode asynchronously: wait until every one has finished, loaded or broken.
        images = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))"
            ".then(() => done(Array.from(document.images)"
            ".map(i => [i.alt, i.naturalWidth, i.naturalHeight])));")
        for alt, width, height in images:
            failures += _expect("image", f"{alt} ({width}x{height})", width > 0)
        print(f"{len(images)} images")
    finally:
        driver.quit()
        profile.cleanup()
    return failures


def _expect(what: str, detail: str, ok: bool) -> list[str]:
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {detail}")
    return [] if ok else [f"{what}: {detail}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=Path, default=ROOT / "reports", help="the evaluation steps' output")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "index.html")
    parser.add_argument("--check", action="store_true", help="check the page --out in headless Chromium")
    args = parser.parse_args(argv)

    if args.check:
        failures = check(args.out)
        print(f"{len(failures)} failures" if failures else "page ok")
        return 1 if failures else 0
    page, sections = build_page(args.inputs, collect_header())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    for s in sections:
        print(f"{s.title:42} {'ERROR ' + s.error if s.error else 'shown' if s.ran else 'not run'}")
    print(f"page: {args.out}")
    return 1 if any(s.error for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
