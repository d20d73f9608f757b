"""The linear intent classifier (rasa_addons/linear_intent_classifier.py) in Rasa's own environment:
trained on featurised messages, stored, loaded back as a fresh component, and blended with the ranking
an earlier classifier left. Runs a script under .venv-rasa's Python, where Rasa lives."""

from __future__ import annotations

import pytest

from tests.servers import run_in_rasa_env

SCRIPT = r"""
import json, sys, tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_addons.linear_intent_classifier import LinearIntentClassifier

# Each intent owns one sparse column and one direction of a 4-d dense vector.
def message(text, intent, index, intents):
    m = Message(data={TEXT: text, INTENT: intent} if intent else {TEXT: text})
    sparse = sp.coo_matrix(([1.0], ([0], [index])), shape=(1, intents))
    dense = np.zeros((1, 4), dtype=np.float32)
    dense[0, index] = 1.0
    m.add_features(Features(sparse, FEATURE_TYPE_SENTENCE, TEXT, "sparse"))
    m.add_features(Features(dense, FEATURE_TYPE_SENTENCE, TEXT, "dense"))
    return m


def round_trip(intents, config):
    names = [f"intent_{i}" for i in range(intents)]
    training = TrainingData([message(f"{name} {k}", name, i, intents)
                             for i, name in enumerate(names) for k in range(8)])
    storage = LocalModelStorage(Path(tempfile.mkdtemp()))
    resource = Resource("linear")
    context = ExecutionContext(GraphSchema({}), "linear")
    LinearIntentClassifier.create(config, storage, resource, context).train(training)
    loaded = LinearIntentClassifier.load(config, storage, resource, context)
    probes = [message("probe", None, i, intents) for i in range(intents)]
    earlier = [message("probe", None, i, intents) for i in range(intents)]
    for p in earlier:  # an earlier classifier sure of intent_0 for every probe
        p.set("intent_ranking", [{"name": "intent_0", "confidence": 1.0}])
    loaded.process(probes)
    loaded.process(earlier)
    return {kind: [{"intent": p.get(INTENT)["name"], "ranking": p.get("intent_ranking")} for p in ps]
            for kind, ps in (("own", probes), ("after_earlier", earlier))}


print(json.dumps({
    "three": round_trip(3, {})["own"],
    "two": round_trip(2, {})["own"],
    "blended": round_trip(3, {"earlier_weight": 0.5}),
    "untrained": str(LinearIntentClassifier.load(
        {}, LocalModelStorage(Path(tempfile.mkdtemp())), Resource("none"),
        ExecutionContext(GraphSchema({}), "none")).process([message("x", None, 0, 3)])[0].get(INTENT)),
}))
"""


@pytest.fixture(scope="module")
def outcome() -> dict:
    return run_in_rasa_env(SCRIPT)


def test_each_message_gets_its_own_intent_after_a_store_and_load(outcome: dict) -> None:
    assert [p["intent"] for p in outcome["three"]] == ["intent_0", "intent_1", "intent_2"]
    for probe in outcome["three"]:
        confidences = [r["confidence"] for r in probe["ranking"]]
        assert confidences == sorted(confidences, reverse=True)
        assert sum(confidences) == pytest.approx(1.0, abs=1e-6)


def test_two_intents_give_a_full_ranking_too(outcome: dict) -> None:
    assert [p["intent"] for p in outcome["two"]] == ["intent_0", "intent_1"]
    assert all(len(p["ranking"]) == 2 for p in outcome["two"])


def test_an_earlier_ranking_counts_by_its_weight(outcome: dict) -> None:
    own = {r["name"]: r["confidence"] for r in outcome["blended"]["own"][1]["ranking"]}
    blended = {r["name"]: r["confidence"] for r in outcome["blended"]["after_earlier"][1]["ranking"]}
    assert blended["intent_0"] == pytest.approx(0.5 + 0.5 * own["intent_0"], abs=1e-6)
    assert blended["intent_1"] == pytest.approx(0.5 * own["intent_1"], abs=1e-6)


def test_a_component_with_nothing_stored_leaves_the_intent_alone(outcome: dict) -> None:
    assert outcome["untrained"] == "None"
