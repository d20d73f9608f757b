"""Redaction benchmark (prints figures; not part of the tests).

    python -m bench.redaction [--repeat 20] [--notes ../shared/notes] [--baseline HEAD]

Per-line cost of ``redact()`` in microseconds, median and p95 over the lines, on the synthetic
corpus (tests/redaction_corpus.py) and on every non-empty line of the notes (each line timed
``--repeat`` times in 5 batches; the best batch mean counts), plus the cost of redacting each note
as one text. The redactor as committed at ``--baseline`` (read with ``git show
REV:llm_fallback/text/redact.py`` into a temporary file, never kept; once the new redactor is committed,
pass the commit before it) runs side by side with the working copy, with each one's recall and
false positives on the corpus. Nothing from the notes is printed: only counts and timings.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from llm_fallback.text import redact as new_module  # noqa: E402 - after the path set-up above
from tests.redaction_corpus import LOOK_ALIKES, SECRETS  # noqa: E402

Redact = Callable[[str], object]


def load_baseline(rev: str) -> ModuleType | None:
    """redact.py as committed at ``rev``, imported from a temporary file (None without git)."""
    source = None
    for path in ("llm_fallback/text/redact.py", "llm_fallback/redact.py"):  # after, before the move
        try:
            source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True,
                                    capture_output=True, text=True).stdout
            break
        except (OSError, subprocess.CalledProcessError):
            continue
    if source is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "redact_head.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location("redact_head", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["redact_head"] = module  # dataclasses look their module up while building
        spec.loader.exec_module(module)
    return module


def per_line_us(redact: Redact, lines: list[str], repeat: int, batches: int = 5) -> list[float]:
    """Microseconds per call for each line: the best of ``batches`` batch means, which keeps other
    processes on a shared machine from inflating the figure."""
    per_batch = max(1, repeat // batches)
    costs = []
    for line in lines:
        best = float("inf")
        for _ in range(batches):
            start = time.perf_counter_ns()
            for _ in range(per_batch):
                redact(line)
            best = min(best, (time.perf_counter_ns() - start) / per_batch)
        costs.append(best / 1000)
    return costs


def leaks(output: str, value: str) -> bool:
    """Same rule as tests/unit/test_redact.py: the value or a 6-character piece of it survives."""
    views = (output, unicodedata.normalize("NFKC", output.replace("\u200b", "")))
    value = unicodedata.normalize("NFKC", value)
    pieces = [value] if len(value) < 6 else [value[i:i + 6] for i in range(len(value) - 5)]
    return any(piece in view for view in views for piece in pieces)


def quality(module: ModuleType) -> tuple[int, int]:
    """(secrets missed, look-alikes changed) on the corpus."""
    missed = sum(any(leaks(module.redact(c.text).text, v) for v in c.values) for c in SECRETS)
    changed = sum(module.redact(c.text).text != c.text for c in LOOK_ALIKES)
    return missed, changed


def note_texts(notes_dir: Path) -> list[str]:
    return [path.read_text(encoding="utf-8") for path in sorted(notes_dir.rglob("*.md"))]


def report(modules: dict[str, ModuleType], notes_dir: Path, repeat: int) -> None:
    """One column per redactor (keyed by its display name), one row per figure."""
    corpus = [c.text for c in SECRETS] + [c.text for c in LOOK_ALIKES]
    notes = note_texts(notes_dir)
    note_lines = [line for text in notes for line in text.splitlines() if line.strip()]
    print(f"corpus: {len(SECRETS)} secret cases in {len({c.shape for c in SECRETS})} shapes, "
          f"{len(LOOK_ALIKES)} look-alikes; notes: {len(notes)} files, {len(note_lines)} non-empty lines "
          f"({notes_dir})")
    rows: dict[str, dict[str, str]] = {}
    for label, lines in (("corpus, per line", corpus), ("notes, per line", note_lines)):
        for name, module in modules.items():
            costs = per_line_us(module.redact, lines, repeat)
            rows.setdefault(f"{label}: median µs", {})[name] = f"{statistics.median(costs):.1f}"
            rows.setdefault(f"{label}: p95 µs", {})[name] = f"{percentile(costs, 0.95):.1f}"
    for name, module in modules.items():
        whole = per_line_us(module.redact, notes, 5)
        rows.setdefault("notes, whole files: total ms", {})[name] = f"{sum(whole) / 1000:.1f}"
        missed, changed = quality(module)
        rows.setdefault("corpus secrets missed", {})[name] = f"{missed} / {len(SECRETS)}"
        rows.setdefault("corpus look-alikes changed", {})[name] = f"{changed} / {len(LOOK_ALIKES)}"
    print(f"{'':34}" + "".join(f"{name:>20}" for name in modules))
    for label, cells in rows.items():
        print(f"{label:34}" + "".join(f"{cells[name]:>20}" for name in modules))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per line")
    parser.add_argument("--notes", type=Path, default=ROOT.parent / "shared" / "notes",
                        help="notes directory (default: the originals; falls back to notes/)")
    parser.add_argument("--baseline", default="HEAD", help="git revision of the redactor to compare with")
    args = parser.parse_args()
    notes_dir = args.notes if args.notes.is_dir() else ROOT / "notes"
    modules: dict[str, ModuleType] = {}
    baseline = load_baseline(args.baseline)
    if baseline is not None:
        modules[f"old ({args.baseline})"] = baseline
    modules["new (working copy)"] = new_module
    report(modules, notes_dir, args.repeat)


if __name__ == "__main__":
    main()
