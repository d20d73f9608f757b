"""NLU component: DIET's entity spans snapped to the values the training data knows
(see `rasa_addons.entity_spans`).

Runs right after DIETClassifier and before EntitySynonymMapper, so a snapped span ("QLoRA" out of
"QLoRA fine-tuning") is mapped to its canonical slot value like any other.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_addons.entity_spans import Vocabulary, fit_vocabulary, snapped_entities
from rasa_addons.model_files import load_json, save_json

logger = logging.getLogger(__name__)
_FILE = "entity_vocabulary.json"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class EntitySnapper(GraphComponent):
    def __init__(self, model_storage: ModelStorage, resource: Resource,
                 vocabulary: Vocabulary | None = None) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self._vocabulary = vocabulary or Vocabulary({}, {})

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> EntitySnapper:
        return cls(model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> EntitySnapper:
        stored = load_json(model_storage, resource, _FILE)
        if stored is None:
            logger.warning("entity snapper has no vocabulary; entities pass unchanged")
        return cls(model_storage, resource, Vocabulary.from_json(stored) if stored else None)

    def train(self, training_data: TrainingData) -> Resource:
        # As written in the message: an annotation's value may already be its canonical synonym.
        annotated = [(e["entity"], m.get(TEXT)[e[ENTITY_ATTRIBUTE_START]:e[ENTITY_ATTRIBUTE_END]])
                     for m in training_data.entity_examples for e in m.get(ENTITIES) or []]
        lookups = {table["name"]: table["elements"] for table in training_data.lookup_tables
                   if isinstance(table.get("elements"), list)}
        patterns: dict[str, list[str]] = {}
        for regex in training_data.regex_features:
            patterns.setdefault(regex["name"], []).append(regex["pattern"])
        self._vocabulary = fit_vocabulary(annotated, lookups, training_data.entity_synonyms, patterns)
        save_json(self._model_storage, self._resource, _FILE, self._vocabulary.to_json())
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            entities = message.get(ENTITIES) or []
            snapped = snapped_entities(message.get(TEXT) or "", entities, self._vocabulary)
            if len(snapped) < len(entities):
                logger.debug("entity snapper: %d tag(s) dropped or merged", len(entities) - len(snapped))
            message.set(ENTITIES, snapped, add_to_output=True)
        return messages
