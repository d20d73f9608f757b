"""The intranet webhook's request body: parsed and validated before anything reaches Rasa.

Every malformed body is a PayloadError with a 4xx status, never another exception: this runs on
untrusted input inside the Rasa server, where anything else would be a 500.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BYTES = 4096  # UTF-8 bytes, so 4 KB whatever the script
MAX_SENDER_CHARS = 128
# metadata itself is level 1; deeper JSON only costs (Rasa copies and serialises it with every
# event) and Python's recursive JSON code fails past ~1000 levels.
MAX_METADATA_DEPTH = 8
# Control characters have no place in an id, and PostgreSQL refuses NUL in text columns.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A JSON escape of a UTF-16 surrogate: the only way a lone one gets into the parsed strings.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class PayloadError(Exception):
    """A request the webhook refuses, with the HTTP status and a machine-readable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


@dataclass(frozen=True)
class Inbound:
    sender: str
    message: str
    metadata: dict[str, Any]


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf, which is not JSON to send back out
        raise ValueError("number out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"), parse_float=_finite, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise PayloadError(400, "invalid_json", "the body must be a JSON object in UTF-8") from None
    except RecursionError:
        raise PayloadError(400, "invalid_json", "the body nests too deeply") from None


def _encodable(text: str) -> bool:
    # A "\ud800" escape decodes to a lone surrogate, which no UTF-8 encoder (nor Rasa) accepts.
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def too_deep(metadata: dict[str, Any], max_depth: int = MAX_METADATA_DEPTH) -> bool:
    """Whether arrays and objects nest deeper than max_depth (metadata itself is level 1).

    Iterative on purpose: recursion is what failed at 3,000 levels.
    """
    stack: list[tuple[Any, int]] = [(metadata, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            return True
        for child in value.values() if isinstance(value, dict) else value:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string (or object key) in a JSON value holds a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _check_sender(sender: Any) -> None:
    if not isinstance(sender, str) or not sender.strip():
        raise PayloadError(400, "invalid_field", "sender must be a non-empty string")
    if len(sender) > MAX_SENDER_CHARS:
        raise PayloadError(400, "invalid_field", f"sender must be at most {MAX_SENDER_CHARS} characters")
    if CONTROL_CHARS.search(sender) or not _encodable(sender):
        raise PayloadError(
            400, "invalid_field", "sender must not contain control characters or lone surrogates"
        )


def _check_message(message: Any) -> None:
    if not isinstance(message, str) or not message.strip():
        raise PayloadError(400, "invalid_field", "message must be a non-empty string")
    if not _encodable(message):
        raise PayloadError(400, "invalid_field", "message must be valid Unicode (no lone surrogates)")
    if len(message.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise PayloadError(413, "message_too_large", f"message must be at most {MAX_MESSAGE_BYTES} bytes")


def parse_inbound(body: bytes) -> Inbound:
    """`{"sender": str, "message": str, "metadata"?: object}` or a PayloadError saying what is wrong."""
    data = _load(body)
    if not isinstance(data, dict):
        raise PayloadError(400, "invalid_json", "the body must be a JSON object")
    missing = [name for name in ("sender", "message") if name not in data]
    if missing:
        raise PayloadError(400, "missing_field", f"missing field(s): {', '.join(missing)}")
    sender, message, metadata = data["sender"], data["message"], data.get("metadata")
    _check_sender(sender)
    _check_message(message)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise PayloadError(400, "invalid_field", "metadata must be a JSON object")
    # Fast paths for the common small body (the walks only run when they could find something):
    # without that many brackets nothing nests that deep, and valid UTF-8 holds no surrogates
    # unless a \uD800-\uDFFF escape wrote one.
    problem = None
    if body.count(b"{") + body.count(b"[") > MAX_METADATA_DEPTH and too_deep(metadata):
        problem = f"metadata must nest at most {MAX_METADATA_DEPTH} levels deep"
    elif SURROGATE_ESCAPE.search(body) and has_lone_surrogate(metadata):
        problem = "metadata strings must be valid Unicode (no lone surrogates)"
    if problem:
        raise PayloadError(400, "invalid_field", problem)
    return Inbound(sender=sender, message=message, metadata=metadata)
