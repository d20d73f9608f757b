"""Fitted parameter files (retrieval_params.json, faq_match_params.json).

Each is JSON with the list of features its coefficients belong to, so a file fitted on other
features is refused with the command that refits it, instead of being read with shifted weights.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def read_fitted(path: Path, features: Sequence[str], refit_command: str) -> dict | None:
    """The file's values, or None when there is no file (the caller's defaults apply)."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("features", list(features)) != list(features):
        raise ValueError(f"{path} was fitted on other features; run `{refit_command}`")
    return data


def write_fitted(path: Path, features: Sequence[str], values: dict) -> None:
    data = {"features": list(features), **values}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
