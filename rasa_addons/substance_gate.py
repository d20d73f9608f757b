"""NLU component: a canned or skill intent only takes a message that asks nothing more than its
examples do; anything else becomes `ask_notes` (see `rasa_addons.substance`).

Runs last in the pipeline, after FallbackClassifier: it looks at the intent NLU settled on and the
message's tokens, and keeps the original ranking so `rasa test nlu` and the logs still show it.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, TEXT, TEXT_TOKENS
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_addons.model_files import load_json, save_json
from rasa_addons.substance import (
    GATED_INTENTS,
    NOTES_INTENT,
    TOPIC_MIN_EXAMPLES,
    fit_vocabulary,
    goes_to_notes,
)

logger = logging.getLogger(__name__)
_FILE = "vocabulary.json"


def _tokens(message: Message) -> list[str]:
    return [token.text for token in message.get(TEXT_TOKENS) or []]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class SubstanceGate(GraphComponent):
    def __init__(self, model_storage: ModelStorage, resource: Resource,
                 vocabulary: dict[str, list[str]] | None = None) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self._vocabulary = vocabulary or {}

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        # Rasa's training cache keys on data and config, not code: the intents the gate learns a
        # vocabulary for and what counts as a topic are part of what it trains, so a change to them
        # must retrain it.
        return f"{','.join(sorted(GATED_INTENTS))};topics>={TOPIC_MIN_EXAMPLES}"

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SubstanceGate:
        return cls(model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> SubstanceGate:
        vocabulary = load_json(model_storage, resource, _FILE)
        if vocabulary is None:
            logger.warning("substance gate has no vocabulary; intents pass unchanged")
        return cls(model_storage, resource, vocabulary)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [(m.get(INTENT), _tokens(m)) for m in training_data.intent_examples]
        self._vocabulary = fit_vocabulary(examples)
        save_json(self._model_storage, self._resource, _FILE, self._vocabulary)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            name, text = intent.get("name"), message.get(TEXT) or ""
            if not name or text.startswith("/"):
                continue
            if goes_to_notes(name, text, _tokens(message), self._vocabulary):
                logger.debug("substance gate: %s -> %s", name, NOTES_INTENT)
                message.set(INTENT, {"name": NOTES_INTENT, "confidence": intent.get("confidence", 0.0)},
                            add_to_output=True)
        return messages
