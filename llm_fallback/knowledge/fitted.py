"""Fitted parameter files (retrieval_params.json, faq/match_params.json).

Each is JSON with the list of features its coefficients belong to, so a file fitted on other
features is refused with the command that refits it, instead of being read with shifted weights.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def load_params(cls: type[T], path: Path, features: Sequence[str], refit_command: str) -> T:
    """The parameter dataclass ``cls`` with the file's values (lists as tuples), or its defaults when
    there is no file. Keys that are not fields of ``cls`` (the fit report) are left out."""
    if not path.is_file():
        return cls()
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("features", list(features)) != list(features):
        raise ValueError(f"{path} was fitted on other features; run `{refit_command}`")
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
                              for key, value in data.items() if key in known}
    return cls(**values)


def write_fitted(path: Path, features: Sequence[str], values: dict) -> None:
    data = {"features": list(features), **values}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
