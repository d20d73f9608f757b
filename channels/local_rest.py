"""Rasa's REST channel for this host only (`rest:` in credentials.yml).

It has no authentication, so it serves loopback peers alone: tests, benchmarks, curl on the
server itself, and `rasa shell` (which talks to the server through it). Everyone else uses the
authenticated intranet webhook (channels/intranet.py). Same URL and JSON as Rasa's own REST
channel, `?stream=true` included; in addition a malformed body gets a 400 instead of a 500, and a
turn that sends nothing back gets "temporarily unavailable" (channels/unavailable.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from asyncio import Queue
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import QueueOutputChannel, RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.loopback import is_loopback
from channels.unavailable import answer_or_apologise

logger = logging.getLogger(__name__)


class CountingQueueOutput(QueueOutputChannel):
    """The streaming collector, counting what it passed on (the queue is drained as it goes)."""

    def __init__(self, message_queue: Queue) -> None:
        super().__init__(message_queue)
        self.count = 0

    async def _persist_message(self, message: dict[str, Any]) -> None:
        self.count += 1
        await super()._persist_message(message)


def parse_body(request: Request) -> tuple[str, str, dict[str, Any]] | str:
    """(sender, message, metadata), or why the body is not acceptable."""
    try:
        data = json.loads(request.body or b"")
    except ValueError:
        return "the body must be a JSON object"
    if not isinstance(data, dict):
        return "the body must be a JSON object"
    sender, text, metadata = data.get("sender"), data.get("message"), data.get("metadata") or {}
    if not isinstance(sender, str) or not sender or not isinstance(text, str):
        return "'sender' (non-empty string) and 'message' (string) are required"
    if not isinstance(metadata, dict):
        return "'metadata' must be a JSON object"
    return sender, text, metadata


class LoopbackRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("loopback_rest_webhook", __name__)

        @hook.on_request
        async def loopback_only(request: Request) -> HTTPResponse | None:
            if is_loopback(request.ip):
                return None
            logger.info("rest channel refused ip=%s", request.ip)
            return response.json(
                {"error": "forbidden", "message": "this channel serves the server's own host; "
                 "use /webhooks/intranet/webhook with a token"}, status=403)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            parsed = parse_body(request)
            if isinstance(parsed, str):
                return response.json({"error": "invalid_request", "message": parsed}, status=400)
            sender, text, metadata = parsed
            if request.args.get("stream", "").lower() == "true":
                return response.stream(self._stream(on_new_message, sender, text, metadata),
                                       content_type="text/event-stream")
            collector = CollectingOutputChannel()
            message = UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
            await answer_or_apologise(on_new_message, message, lambda: len(collector.messages))
            return response.json(collector.messages)

        return hook

    def _stream(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], sender: str, text: str,
                metadata: dict[str, Any]) -> Callable[[Any], Awaitable[None]]:
        async def stream(resp: Any) -> None:
            queue: Queue = Queue()
            collector = CountingQueueOutput(queue)
            message = UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)

            async def run() -> None:
                await answer_or_apologise(on_new_message, message, lambda: collector.count)
                await queue.put(None)

            task = asyncio.ensure_future(run())
            while (item := await queue.get()) is not None:
                await resp.write(json.dumps(item) + "\n")
            await task

        return stream
