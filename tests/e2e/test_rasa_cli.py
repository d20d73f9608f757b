"""Rasa's own checks on the project, as a Rasa user would run them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.servers import MODEL, RASA, ROOT, base_env

# Held-out tests/nlu_test.yml (273 messages, both languages). Training repeats exactly (`make train`:
# fixed hash seed, deterministic TensorFlow kernels, no component cache; two trainings from scratch gave
# the same predictions to the last digit), so these floors are the measured figures less a stated
# tolerance of about three messages, not a spread between trainings. Measured at stop 26, the linear
# classifier's intents with a fifth of DIET's blended in: intent accuracy 0.978 (stop 25, half and
# half: 0.974; DIET alone: 0.967). Entity micro F1 0.994 since stop 37, DIET's spans snapped to known
# values (rasa_addons/entity_snapper.py; 0.963 before). Issue 19's target is 0.97 for both.
MIN_INTENT_ACCURACY = 0.967
MIN_ENTITY_F1 = 0.97


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
