"""A component's learnt JSON in the trained model (Rasa's model storage), for the components that
learn a vocabulary: the substance gate and the entity snapper."""

from __future__ import annotations

import json
from typing import Any

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage


def save_json(model_storage: ModelStorage, resource: Resource, name: str, data: Any) -> None:
    with model_storage.write_to(resource) as directory:
        (directory / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def load_json(model_storage: ModelStorage, resource: Resource, name: str) -> Any | None:
    """What `save_json` stored under `name`; None when the model has none (trained before the
    component existed) or it does not parse. The caller says what it does without it."""
    try:
        with model_storage.read_from(resource) as directory:
            return json.loads((directory / name).read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return None
