"""Rasa's own checks on the project, as a Rasa user would run them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.servers import MODEL, RASA, ROOT, base_env

# Held-out tests/nlu_test.yml (267 messages, both languages): the targets. Measured 0.970 intent
# accuracy and 0.969 entity micro F1 (training is seeded, so a retrain on the same data repeats it).
# 0.951 at stop 15. Two trainings on the same NLU data at stop 16 (new_topic added; only rules differed) gave
# 0.938 and 0.919: DIET's accuracy on this file moves by about two points from one training to the
# next, so the floor sits below that spread. Issue 19 is to raise it to 0.97 and make it steady.
MIN_INTENT_ACCURACY = 0.90
MIN_ENTITY_F1 = 0.95


def run_rasa(*args: str, timeout_s: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(RASA), *args],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
    )


def test_data_validates_without_warnings() -> None:
    result = run_rasa("data", "validate", "--fail-on-warnings")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # Rasa 3.6 exits 0 on some validator warnings (an unused response) despite --fail-on-warnings.
    assert "UserWarning" not in output, output[-4000:]


def test_core_stories_predicted_without_errors(tmp_path: Path) -> None:
    result = run_rasa(
        "test",
        "core",
        "--model",
        str(MODEL),
        "--stories",
        "tests/test_stories.yml",
        "--fail-on-prediction-errors",
        "--out",
        str(tmp_path),
        "--no-plot",
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_nlu_accuracy_on_held_out_messages(tmp_path: Path) -> None:
    result = run_rasa(
        "test", "nlu", "--model", str(MODEL), "--nlu", "tests/nlu_test.yml", "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = json.loads((tmp_path / "intent_report.json").read_text())
    entities = json.loads((tmp_path / "DIETClassifier_report.json").read_text())
    entity_f1 = entities["micro avg"]["f1-score"]
    print(
        f"intent accuracy={report['accuracy']:.3f} macro_f1={report['macro avg']['f1-score']:.3f} "
        f"entity micro_f1={entity_f1:.3f}"
    )
    assert report["accuracy"] >= MIN_INTENT_ACCURACY
    assert entity_f1 >= MIN_ENTITY_F1, {k: v for k, v in entities.items() if isinstance(v, dict)}
