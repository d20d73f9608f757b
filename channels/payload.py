"""The intranet webhook's request body: parsed and validated before anything reaches Rasa."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BYTES = 4096  # UTF-8 bytes, so 4 KB whatever the script
MAX_SENDER_CHARS = 128


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


def parse_inbound(body: bytes) -> Inbound:
    """`{"sender": str, "message": str, "metadata"?: object}` or a PayloadError saying what is wrong."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise PayloadError(400, "invalid_json", "the body must be a JSON object in UTF-8") from None
    if not isinstance(data, dict):
        raise PayloadError(400, "invalid_json", "the body must be a JSON object")
    missing = [name for name in ("sender", "message") if name not in data]
    if missing:
        raise PayloadError(400, "missing_field", f"missing field(s): {', '.join(missing)}")
    sender, message, metadata = data["sender"], data["message"], data.get("metadata")
    if not isinstance(sender, str) or not sender.strip():
        raise PayloadError(400, "invalid_field", "sender must be a non-empty string")
    if len(sender) > MAX_SENDER_CHARS:
        raise PayloadError(400, "invalid_field", f"sender must be at most {MAX_SENDER_CHARS} characters")
    if not isinstance(message, str) or not message.strip():
        raise PayloadError(400, "invalid_field", "message must be a non-empty string")
    if len(message.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise PayloadError(413, "message_too_large", f"message must be at most {MAX_MESSAGE_BYTES} bytes")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise PayloadError(400, "invalid_field", "metadata must be a JSON object")
    return Inbound(sender=sender, message=message, metadata=metadata)
