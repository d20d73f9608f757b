"""DIET's entity spans snapped to known values (rasa_addons/entity_spans.py)."""

from __future__ import annotations

import pytest

from rasa_addons.entity_spans import Vocabulary, fit_vocabulary, snapped_entities, snapped_span

SIZE_PATTERN = r"(?<![\w.])\d+(?:\.\d+)?\s?[bB](?![a-zA-Z])"


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return fit_vocabulary(
        annotated=[("goal", "simple"), ("train_mode", "LoRA"), ("train_mode", "QLoRA"),
                   ("parameter", "epoch"), ("parameter", "temperature"), ("model_size", "7B"),
                   ("hardware", "一张 4090"),
                   ("loss_tolerance", "2-3%"), ("loss_tolerance", "任何性能损失")],
        lookups={"parameter": ["epochs", "batch size"]},
        synonyms={"七十亿": "7B", "low-rank": "LoRA", "50%": "half"},
        patterns={"model_size": [SIZE_PATTERN], "data_trait": ["never annotated"]},
    )


def tagged(text: str, value: str, entity: str, vocabulary: Vocabulary) -> str | None:
    """What a tag on the first `value` of `text` becomes."""
    start = text.index(value)
    span = snapped_span(text, entity, start, start + len(value), vocabulary)
    return None if span is None else text[span[0]:span[1]]


def test_the_vocabulary_holds_annotations_lookups_synonyms_and_patterns(vocabulary: Vocabulary) -> None:
    assert set(vocabulary.values["parameter"]) == {"epoch", "temperature", "epochs", "batch size"}
    assert {"七十亿", "7B"} <= set(vocabulary.values["model_size"])
    assert "low-rank" in vocabulary.values["train_mode"]
    assert "50%" not in vocabulary.values["loss_tolerance"]  # a synonym of nothing annotated
    assert vocabulary.patterns == {"model_size": [SIZE_PATTERN]}
    assert Vocabulary.from_json(vocabulary.to_json()) == vocabulary


@pytest.mark.parametrize(("text", "tag", "entity", "expected"), [
    # Runs past its value.
    ("Can QLoRA fine-tuning fit on one card?", "QLoRA fine-tuning", "train_mode", "QLoRA"),
    ("what happens with temperature outside 0-2?", "temperature outside", "parameter", "temperature"),
    ("能接受 2-3% 损失吗", "2-3% 损失", "loss_tolerance", "2-3%"),
    # Stops inside it.
    ("how many epochs should I train?", "epoch", "parameter", "epochs"),
    ("不能有任何性能损失", "任何性能", "loss_tolerance", "任何性能损失"),
    # A size the pattern finds, in a span wider than it.
    ("a 14B model", "14B model", "model_size", "14B"),
    # Already right.
    ("七十亿参数的模型", "七十亿", "model_size", "七十亿"),
    # No known value, but a known word: a new spelling, kept as tagged.
    ("我有一张 3090", "一张 3090", "hardware", "一张 3090"),
    ("the simplest way to serve it", "simplest", "goal", "simplest"),
    # Neither: not a value of this entity.
    ("my card has 8 GB", "8", "model_size", None),
    ("what chunk overlap is best", "overlap", "parameter", None),
    ("只有 CPU 的机器", "机器", "goal", None),
    # An entity no example annotates passes unchanged.
    ("便宜的机器", "机器", "data_trait", "机器"),
])
def test_spans_snap_to_known_values(text: str, tag: str, entity: str, expected: str | None,
                                    vocabulary: Vocabulary) -> None:
    assert tagged(text, tag, entity, vocabulary) == expected


def test_a_value_inside_a_longer_word_is_not_a_match(vocabulary: Vocabulary) -> None:
    # "LoRA" of "QLoRA": the tag becomes the whole word, not the shorter value inside it.
    assert tagged("QLoRA 要多少显存", "QLoRA", "train_mode", vocabulary) == "QLoRA"
    assert tagged("LoRAX serving", "LoRAX", "train_mode", vocabulary) is None


def test_tags_snapping_to_one_value_become_one_entity(vocabulary: Vocabulary) -> None:
    text = "how many epochs at temperature 0? 7B model"
    tags = [{"entity": "parameter", "start": 9, "end": 14, "value": "epoch"},
            {"entity": "parameter", "start": 14, "end": 15, "value": "s"},
            {"entity": "parameter", "start": 19, "end": 30, "value": "temperature"},
            {"entity": "model_size", "start": 31, "end": 32, "value": "0"},
            {"entity": "model_size", "start": 34, "end": 36, "value": "7B"}]
    snapped = snapped_entities(text, tags, vocabulary)
    assert [(e["entity"], e["value"]) for e in snapped] == [
        ("parameter", "epochs"), ("parameter", "temperature"), ("model_size", "7B")]
    assert snapped[0]["start"] == 9 and snapped[0]["end"] == 15
