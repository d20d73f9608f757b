"""Secrets people paste, kept out of the copies the servers make of their messages.

The redactor (llm_fallback/text/redact.py) recognises a credential by its context: "密码是 Zx9…",
"PGPASSWORD=…". NLU then copies the bare value into an entity, a slot and, at DEBUG, into log
lines ("model_size: Zx9…") where that context is gone, and structured log lines escape Chinese
(`\\u5bc6\\u7801`), hiding it again. So the values found in a message are remembered for a while
and scrubbed wherever they turn up later in the same process: the tracker store
(rasa_addons/tracker_store.py) and the log records (rasa_addons/logs.py).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from llm_fallback.text.redact import MARK, RedactionResult, redact

# Shorter pieces would blank out ordinary words wherever they occur.
MIN_CHARS = 6
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def unescape_json(text: str) -> str:
    """`\\u5bc6` back to 密, so that the redactor sees the words around a value."""
    return _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def secret_values(text: str, found: RedactionResult) -> set[str]:
    """The raw values `found` (the redactor's result on `text`) removed from `text`."""
    lines = text.splitlines() or [""]
    values = {lines[f.line - 1][f.start:f.end] for f in found.findings if f.line <= len(lines)}
    return {value.strip() for value in values if len(value.strip()) >= MIN_CHARS}


@dataclass
class SecretMemory:
    """Values seen recently, bounded in number and age: enough to cover one turn's copies."""

    max_values: int = 512
    ttl_s: float = 3600.0
    _values: OrderedDict[str, float] = field(default_factory=OrderedDict, repr=False)

    def remember(self, text: str) -> str:
        """Learns the secret values in `text`; returns `text` redacted (one redactor pass when
        there is nothing JSON-escaped to read through)."""
        now = time.monotonic()
        visible = unescape_json(text)
        found = redact(visible)
        for value in secret_values(visible, found):
            self._values.pop(value, None)
            self._values[value] = now + self.ttl_s
        while self._values and (
            len(self._values) > self.max_values or next(iter(self._values.values())) < now
        ):
            self._values.popitem(last=False)
        return found.text if visible == text else redact(text).text

    def scrub(self, text: str, redact_first: bool = True) -> str:
        """`text` (redacted first unless told not to) with every remembered value, or a piece of
        one such as an entity NLU cut from it, removed."""
        cleaned = redact(text).text if redact_first else text
        for value in self._values:
            if value in cleaned:
                cleaned = cleaned.replace(value, MARK)
            elif len(cleaned) >= MIN_CHARS and cleaned.strip() in value:
                return MARK
        return cleaned


# One per process: the tracker store learns a value when it saves a message, the log records of
# the same process are scrubbed with it, and the other way round.
MEMORY = SecretMemory()
