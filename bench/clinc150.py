"""CLINC150 (150 intents and out-of-scope queries, Larson et al. 2019) with this project's NLU pipeline.

    .venv-rasa/bin/python -m bench.clinc150 [--config config.yml] [--epochs N] [--per-intent N]
                                            [--out reports/clinc150] [--model PATH]

Runs in the Rasa environment. Trains config.yml's NLU components (on CLINC's English text) on the
train split plus oos_train as the `out_of_scope` intent, then parses val and test and decides
in-scope against out-of-scope the way the assistant does: out of scope when DIET's top intent is
`out_of_scope`, or FallbackClassifier would fire (top confidence below its threshold, or the top two
closer than its ambiguity threshold). The substance gate is left out: it guards this assistant's own
canned and skill intents, which CLINC does not have.

Prints in-scope accuracy, out-of-scope recall and precision, the share of in-scope queries wrongly
flagged out of scope, training time and parse latency, beside the stock Rasa figures and the
paper's Table 2; at config.yml's thresholds and at thresholds chosen on the val split three ways
(best balance, out-of-scope recall floor, ceiling on flagged in-scope queries). Writes the figures
(JSON) and the threshold trade-off curve (PNG) to --out.

`--per-intent N` trains on the first N examples of each intent (a quick look; the figures to report
use the full split). With PYTHONHASHSEED=0 and TF_DETERMINISTIC_OPS=1 in the environment, as
`make train` and scripts/eval.sh set them, a run repeats exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "bench" / "clinc150"
OOS_LABEL = "oos"
OOS_INTENT = "out_of_scope"
FALLBACK_INTENT = "nlu_fallback"
# Components that serve this assistant's own intents or responses, not a classifier's job on CLINC.
ASSISTANT_ONLY = {"rasa_addons.substance_gate.SubstanceGate", "ResponseSelector"}

# Measured here before this bench existed (issue 19): the same split, trained the same way.
EARLIER = {
    "stock Rasa 3.6 DIET (threshold 0.3)": {"in_scope": 89.7, "oos_recall": 12.8, "train_min": 36},
    "this pipeline before the change (0.55)": {"in_scope": 87.8, "oos_recall": 65.2, "train_min": 68},
    "DIET + sentence vector, 40 epochs (0.55)": {"in_scope": 79.6, "oos_recall": 82.0, "train_min": 26.5},
}


@dataclass(frozen=True)
class Parsed:
    label: str  # the data set's intent, or "oos"
    top: str  # DIET's (the classifier's) top intent, before any fallback
    confidence: float
    margin: float  # top confidence minus the second's


@dataclass(frozen=True)
class Figures:
    threshold: float
    ambiguity: float
    in_scope_accuracy: float  # in-scope queries given their own intent (and not flagged)
    oos_recall: float
    oos_precision: float
    in_scope_flagged: float  # in-scope queries wrongly called out of scope


def training_yaml(pairs: list[list[str]], per_intent: int | None) -> str:
    by_intent: dict[str, list[str]] = {}
    for text, label in pairs:
        by_intent.setdefault(OOS_INTENT if label == OOS_LABEL else label, []).append(text)
    nlu = [{"intent": intent, "examples": "".join(f"- {t}\n" for t in texts[:per_intent])}
           for intent, texts in sorted(by_intent.items())]
    return yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True, sort_keys=False)


def pipeline_config(config_path: Path, epochs: int | None) -> tuple[dict, float, float]:
    """config.yml's NLU part for CLINC, and its FallbackClassifier's two thresholds."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    pipeline = [dict(c) for c in config["pipeline"] if c["name"] not in ASSISTANT_ONLY]
    threshold, ambiguity = 0.3, 0.1  # Rasa's defaults, if the config has no FallbackClassifier
    for component in pipeline:
        if component["name"] == "rasa_addons.tokenizer.JiebaWordTokenizer":
            component["dictionary_path"] = str(ROOT / component.get("dictionary_path", "data/dict"))
        if component["name"] == "DIETClassifier" and epochs:
            component["epochs"] = epochs
        if component["name"] == "FallbackClassifier":
            threshold = component.get("threshold", threshold)
            ambiguity = component.get("ambiguity_threshold", ambiguity)
    return {"recipe": "default.v1", "language": config.get("language", "en"),
            "pipeline": pipeline}, threshold, ambiguity


def train(config: dict, pairs: list[list[str]], per_intent: int | None, workdir: Path) -> tuple[Path, float]:
    from rasa.model_training import train_nlu

    (workdir / "config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (workdir / "nlu.yml").write_text(training_yaml(pairs, per_intent), encoding="utf-8")
    start = time.monotonic()
    model = train_nlu(str(workdir / "config.yml"), str(workdir / "nlu.yml"), str(workdir / "models"),
                      fixed_model_name="clinc150")
    if model is None:
        raise SystemExit("training failed: see Rasa's log above")
    return Path(model), time.monotonic() - start


async def parse_all(model: Path, pairs: list[list[str]]) -> tuple[list[Parsed], list[float]]:
    import structlog
    from rasa.core.agent import Agent

    # Rasa logs every parse at debug level; outside its server nothing sets the level.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))

    agent = Agent.load(str(model))
    parsed, seconds = [], []
    for text, label in pairs:
        start = time.perf_counter()
        result = await agent.parse_message(text)
        seconds.append(time.perf_counter() - start)
        ranking = [r for r in result.get("intent_ranking") or [] if r["name"] != FALLBACK_INTENT]
        top = ranking[0] if ranking else {"name": OOS_INTENT, "confidence": 0.0}
        second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
        parsed.append(Parsed(label, top["name"], top["confidence"], top["confidence"] - second))
    return parsed, seconds


def is_out_of_scope(p: Parsed, threshold: float, ambiguity: float) -> bool:
    return p.top == OOS_INTENT or p.confidence < threshold or p.margin < ambiguity


def figures(parsed: list[Parsed], threshold: float, ambiguity: float) -> Figures:
    in_scope = [p for p in parsed if p.label != OOS_LABEL]
    oos = [p for p in parsed if p.label == OOS_LABEL]
    flagged = [p for p in parsed if is_out_of_scope(p, threshold, ambiguity)]
    correct = sum(1 for p in in_scope if not is_out_of_scope(p, threshold, ambiguity) and p.top == p.label)
    return Figures(
        threshold=round(threshold, 2),
        ambiguity=ambiguity,
        in_scope_accuracy=round(100 * correct / len(in_scope), 1),
        oos_recall=round(100 * sum(1 for p in oos if is_out_of_scope(p, threshold, ambiguity)) / len(oos), 1),
        oos_precision=round(100 * sum(1 for p in flagged if p.label == OOS_LABEL) / max(1, len(flagged)), 1),
        in_scope_flagged=round(100 * sum(1 for p in in_scope if is_out_of_scope(p, threshold, ambiguity))
                               / len(in_scope), 1),
    )


THRESHOLDS = [i / 100 for i in range(0, 100)]
AMBIGUITIES = [0.0, 0.02, 0.05, 0.1]
OOS_RECALL_FLOOR = 60.0  # issue 19's target pairs in-scope accuracy with at least this recall
# The share of in-scope queries (%) a threshold may wrongly send to the fallback: one in a hundred.
IN_SCOPE_FLAGGED_CEILING = 1.0


def val_grid(val: list[Parsed]) -> list[Figures]:
    """Val's figures at every pair of fallback and ambiguity thresholds, each computed once."""
    return [figures(val, t, a) for a in AMBIGUITIES for t in THRESHOLDS]


def chosen_on_val(grid: list[Figures]) -> tuple[float, float]:
    """The fallback and ambiguity thresholds with the best mean of in-scope accuracy and
    out-of-scope recall on val (the paper weighs the two equally; ties go to the lower thresholds,
    which flag fewer in-scope queries)."""
    best = max(grid, key=lambda f: (f.in_scope_accuracy + f.oos_recall, -f.ambiguity, -f.threshold))
    return best.threshold, best.ambiguity


def chosen_on_val_for_recall_floor(grid: list[Figures]) -> tuple[float, float] | None:
    """The thresholds that give the best in-scope accuracy on val while keeping out-of-scope recall
    at the floor there: issue 19's operating point, chosen without looking at test."""
    # Ties go to the lower thresholds, as in `chosen_on_val`.
    best = best_with_recall_floor(grid, tie_break=lambda f: (-f.ambiguity, -f.threshold))
    return (best.threshold, best.ambiguity) if best else None


def chosen_on_val_for_flagged_ceiling(grid: list[Figures]) -> tuple[float, float] | None:
    """The thresholds that catch the most out-of-scope queries on val while flagging at most
    `IN_SCOPE_FLAGGED_CEILING` % of its in-scope ones (ties to the higher in-scope accuracy, then to
    the lower thresholds).

    Val has 3,000 in-scope queries and only 100 out-of-scope ones, which are easier than test's
    1,000: a threshold tuned to catch 60% of val's caught 47% of test's (stop 39). A ceiling on
    flagged in-scope queries is read off the larger, steadier sample (1.3% of test's were flagged),
    and it is what a user notices: a real question sent to the fallback."""
    kept = [f for f in grid if f.in_scope_flagged <= IN_SCOPE_FLAGGED_CEILING]
    if not kept:
        return None
    best = max(kept, key=lambda f: (f.oos_recall, f.in_scope_accuracy, -f.ambiguity, -f.threshold))
    return best.threshold, best.ambiguity


def best_with_recall_floor(points: list[Figures],
                           tie_break: Callable[[Figures], Any] = lambda f: f.oos_recall) -> Figures | None:
    """The point with the best in-scope accuracy among those keeping out-of-scope recall at the floor
    or above, ties to the highest `tie_break`. On the test curve that is an upper bound, not a tuned
    result; on val's grid it is a choice made without test (`chosen_on_val_for_recall_floor`)."""
    kept = [f for f in points if f.oos_recall >= OOS_RECALL_FLOOR]
    return max(kept, key=lambda f: (f.in_scope_accuracy, tie_break(f))) if kept else None


def plot(curve: list[Figures], marks: dict[str, Figures], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paper = json.loads((DATA / "table2_larson2019.json").read_text(encoding="utf-8"))
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.plot([f.oos_recall for f in curve], [f.in_scope_accuracy for f in curve], "-", color="tab:blue",
            label="this pipeline, threshold 0.00-0.99")
    for name, f in marks.items():
        ax.plot(f.oos_recall, f.in_scope_accuracy, "o", label=f"{name} ({f.threshold:.2f})")
    for approach, marker in (("oos_train", "s"), ("oos_threshold", "^")):
        for model, row in paper[approach].items():
            ax.plot(row["oos"][0], row["in_scope"][0], marker, color="grey", alpha=0.6)
            ax.annotate(f"{model} ({approach.replace('oos_', '')})", (row["oos"][0], row["in_scope"][0]),
                        fontsize=6, color="grey")
    for name, row in EARLIER.items():
        ax.plot(row["oos_recall"], row["in_scope"], "x", color="black")
        ax.annotate(name, (row["oos_recall"], row["in_scope"]), fontsize=6)
    ax.set_xlabel("out-of-scope recall (%)")
    ax.set_ylabel("in-scope accuracy (%)")
    ax.set_title("CLINC150 test: the fallback threshold's trade-off")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument("--epochs", type=int, help="DIET's epochs (default: the config's)")
    parser.add_argument("--per-intent", type=int, help="train on the first N examples of each intent")
    parser.add_argument("--model", type=Path, help="a model this bench trained before: parse only")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "clinc150")
    args = parser.parse_args(argv)

    data = json.loads((DATA / "data_full.json").read_text(encoding="utf-8"))
    config, threshold, ambiguity = pipeline_config(args.config, args.epochs)
    args.out.mkdir(parents=True, exist_ok=True)
    train_s = None
    if args.model is None:
        workdir = Path(tempfile.mkdtemp(prefix="clinc150-"))
        model, train_s = train(config, data["train"] + data["oos_train"], args.per_intent, workdir)
    else:
        model = args.model
    val, _ = asyncio.run(parse_all(model, data["val"] + data["oos_val"]))
    test, seconds = asyncio.run(parse_all(model, data["test"] + data["oos_test"]))

    at_config = figures(test, threshold, ambiguity)
    grid = val_grid(val)
    at_val = figures(test, *chosen_on_val(grid))
    floor_pair = chosen_on_val_for_recall_floor(grid)
    at_val_floor = figures(test, *floor_pair) if floor_pair else None
    ceiling_pair = chosen_on_val_for_flagged_ceiling(grid)
    at_val_ceiling = figures(test, *ceiling_pair) if ceiling_pair else None
    ceiling_name = f"chosen on val, <= {IN_SCOPE_FLAGGED_CEILING:g}% in scope flagged"
    # The curve keeps the val-chosen ambiguity threshold and moves the fallback threshold.
    curve = [figures(test, t, at_val.ambiguity) for t in THRESHOLDS]
    ceiling = best_with_recall_floor(curve)
    report = {
        "config": str(args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config),
        "model": str(model), "per_intent": args.per_intent, "epochs": args.epochs,
        "train_min": round(train_s / 60, 1) if train_s is not None else None,
        "parse_ms": {"median": round(1000 * statistics.median(seconds), 1),
                     "p95": round(1000 * percentile(seconds, 0.95), 1)},
        "at_config_threshold": asdict(at_config), "at_val_threshold": asdict(at_val),
        "at_val_threshold_for_oos_recall_floor": asdict(at_val_floor) if at_val_floor else None,
        "at_val_threshold_for_flagged_ceiling": asdict(at_val_ceiling) if at_val_ceiling else None,
        "in_scope_flagged_ceiling": IN_SCOPE_FLAGGED_CEILING,
        "best_with_oos_recall_floor": asdict(ceiling) if ceiling else None,
        "curve": [asdict(f) for f in curve], "earlier": EARLIER,
    }
    (args.out / "clinc150.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    marks = {"config.yml's thresholds": at_config, "thresholds chosen on val": at_val}
    if at_val_ceiling:
        marks[ceiling_name] = at_val_ceiling
    plot(curve, marks, args.out / "clinc150_threshold.png")

    print(f"CLINC150 test: {sum(p.label != OOS_LABEL for p in test)} in scope, "
          f"{sum(p.label == OOS_LABEL for p in test)} out of scope; model {model}")
    if train_s is not None:
        print(f"training {train_s / 60:.1f} min (per intent: {args.per_intent or 'all'}, "
              f"DIET epochs: {args.epochs or 'config'})")
    print(f"parse median {report['parse_ms']['median']} ms, p95 {report['parse_ms']['p95']} ms")
    print(f"{'':42} {'thr':>5} {'amb':>5} {'in-scope':>9} {'oos rec':>8} {'oos prec':>9} {'flagged':>8}")
    rows = [("this pipeline, config.yml's thresholds", at_config),
            ("this pipeline, thresholds chosen on val", at_val)]
    if at_val_floor:
        rows.append((f"chosen on val for oos recall >= {OOS_RECALL_FLOOR:.0f}", at_val_floor))
    if at_val_ceiling:
        rows.append((ceiling_name, at_val_ceiling))
    if ceiling:
        rows.append((f"best on test with oos recall >= {OOS_RECALL_FLOOR:.0f}", ceiling))
    for name, f in rows:
        print(f"{name:42} {f.threshold:5.2f} {f.ambiguity:5.2f} {f.in_scope_accuracy:9.1f} "
              f"{f.oos_recall:8.1f} {f.oos_precision:9.1f} {f.in_scope_flagged:8.1f}")
    for name, row in EARLIER.items():
        print(f"{name:42} {'':11} {row['in_scope']:9.1f} {row['oos_recall']:8.1f}"
              f"   (train {row['train_min']} min)")
    paper = json.loads((DATA / "table2_larson2019.json").read_text(encoding="utf-8"))
    for approach in ("oos_train", "oos_threshold"):
        for name, row in paper[approach].items():
            print(f"{'paper: ' + name + ' (' + approach + ')':42} {'':11} {row['in_scope'][0]:9.1f} "
                  f"{row['oos'][0]:8.1f}")
    print(f"figures: {args.out / 'clinc150.json'}; curve: {args.out / 'clinc150_threshold.png'}")


if __name__ == "__main__":
    main()
