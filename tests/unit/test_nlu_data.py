"""The NLU data is held to the project's rules: enough varied examples, both languages, held-out tests."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from llm_fallback.text.lang import detect_lang

ROOT = Path(__file__).resolve().parents[2]
ENTITY_MARKUP = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)|\[([^\]]+)\]\{[^}]+\}")
CORE_INTENTS = {
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "bot_challenge",
    "help",
    "out_of_scope",
    "ask_notes",
}


def plain(example: str) -> str:
    """The message text of an annotated example, e.g. "[7B](model_size) 模型" -> "7B 模型"."""
    return ENTITY_MARKUP.sub(lambda m: m.group(1) or m.group(2), example).strip()


def examples_by_intent(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for block in yaml.safe_load(path.read_text())["nlu"]:
        if "intent" in block:
            lines = block["examples"].splitlines()
            found.setdefault(block["intent"], []).extend(
                plain(line[2:]) for line in lines if line.startswith("- ")
            )
    return found


@pytest.fixture(scope="module")
def training() -> dict[str, list[str]]:
    return examples_by_intent(ROOT / "data" / "nlu.yml")


@pytest.fixture(scope="module")
def held_out() -> dict[str, list[str]]:
    return examples_by_intent(ROOT / "tests" / "nlu_test.yml")


def test_every_intent_has_twenty_examples_in_both_languages(training: dict[str, list[str]]) -> None:
    assert training.keys() >= CORE_INTENTS
    for intent, examples in training.items():
        languages = Counter(detect_lang(e) for e in examples)
        assert len(examples) >= 20, intent
        assert min(languages["zh"], languages["en"]) >= 0.3 * len(examples), (intent, languages)


def test_no_duplicate_training_examples(training: dict[str, list[str]]) -> None:
    everything = [e.lower() for examples in training.values() for e in examples]
    duplicates = [e for e, n in Counter(everything).items() if n > 1]
    assert not duplicates


def test_held_out_messages_are_not_trained_on(
    training: dict[str, list[str]], held_out: dict[str, list[str]]
) -> None:
    trained = {e.lower() for examples in training.values() for e in examples}
    tested = [e for examples in held_out.values() for e in examples]
    assert len(tested) >= 60
    assert not [e for e in tested if e.lower() in trained]
    assert set(held_out) <= set(training)
