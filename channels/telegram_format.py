"""Rasa replies shaped for Telegram: split at its length limit, buttons as inline keyboards.

Replies go out as plain text (no parse mode), so nothing in an answer can break or inject
Telegram formatting.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

TELEGRAM_MAX_CHARS = 4096
CALLBACK_DATA_MAX_BYTES = 64
_BREAKS = ("\n\n", "\n", "。", ". ", " ")


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> int:
    """Length (in characters) of the longest prefix of `text` within `limit` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = TELEGRAM_MAX_CHARS) -> list[str]:
    """Parts of at most `limit` UTF-16 units, cut at a paragraph, line, sentence or word if possible."""
    parts = []
    rest = text.strip()
    while rest:
        if utf16_len(rest) <= limit:
            parts.append(rest)
            break
        window = rest[: _fit(rest, limit)]
        cut = 0
        for mark in _BREAKS:
            at = window.rfind(mark)
            if at > len(window) // 3:  # a break too early would leave a sliver
                cut = at + len(mark)
                break
        cut = cut or len(window)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [p for p in parts if p]


class CallbackStore:
    """Telegram's callback data holds 64 bytes; longer Rasa payloads are kept here under a short key."""

    PREFIX = "p:"

    def __init__(self, max_items: int = 5000) -> None:
        self.max_items = max_items
        self._payloads: OrderedDict[str, str] = OrderedDict()

    def data_for(self, payload: str) -> str:
        if len(payload.encode("utf-8")) <= CALLBACK_DATA_MAX_BYTES and not payload.startswith(self.PREFIX):
            return payload
        key = self.PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]
        self._payloads[key] = payload
        self._payloads.move_to_end(key)
        while len(self._payloads) > self.max_items:
            self._payloads.popitem(last=False)
        return key

    def payload_for(self, data: str) -> str | None:
        """The payload a button stands for; None when it expired from the store."""
        if data.startswith(self.PREFIX):
            return self._payloads.get(data)
        return data


def keyboard(buttons: list[dict[str, Any]] | None, store: CallbackStore) -> InlineKeyboardMarkup | None:
    """Rasa buttons (title, payload; or url) as an inline keyboard, one button per row."""
    rows = []
    for button in buttons or []:
        title = str(button.get("title") or button.get("payload") or "")[:64]
        if not title:
            continue
        if button.get("url"):
            rows.append([InlineKeyboardButton(title, url=str(button["url"]))])
        elif button.get("payload"):
            rows.append([InlineKeyboardButton(title, callback_data=store.data_for(str(button["payload"])))])
    return InlineKeyboardMarkup(rows) if rows else None
