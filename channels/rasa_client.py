"""The bridge's way into Rasa: the intranet webhook, with the bridge's service token."""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa could not answer (down, timed out, refused); the message says why, for the log."""


class RasaBusy(RasaUnavailable):
    """The intranet channel rate-limited this sender."""


class RasaClient:
    def __init__(
        self, base_url: str, token: str, timeout_s: float = 120.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/webhooks/intranet/webhook"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=5.0))

    async def send(self, sender: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """Rasa's replies to one message; RasaUnavailable when there are none to be had."""
        payload = {"sender": sender, "message": message, "metadata": metadata}
        try:
            reply = await self.client.post(self.url, json=payload, headers=self.headers)
        except httpx.TimeoutException as exc:
            raise RasaUnavailable(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise RasaUnavailable(f"unreachable ({type(exc).__name__})") from None
        if reply.status_code == 429:
            raise RasaBusy("rate limited")
        if reply.status_code != 200:
            # The error body is ours (channels/intranet.py), never the user's text: safe to log.
            raise RasaUnavailable(f"status {reply.status_code}: {reply.text[:200]}")
        messages = reply.json()
        if not isinstance(messages, list):
            raise RasaUnavailable("unexpected reply shape")
        return [m for m in messages if isinstance(m, dict)]

    async def aclose(self) -> None:
        await self.client.aclose()
