"""The intranet webhook: Rasa's REST channel with authentication, validation and rate limits.

Loaded by the Rasa server from credentials.yml (`channels.intranet.IntranetInput:`):
    POST /webhooks/intranet/webhook   {"sender", "message", "metadata"?} -> [bot messages]
    GET  /webhooks/intranet/          health
    GET  /webhooks/intranet/chat      the web chat page (channels/web/index.html)
    GET  /webhooks/intranet/openapi.yaml
Checks run cheapest first, and nothing unauthenticated, malformed or over the limit reaches Rasa.
See channels/openapi.yaml for the contract.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureChecker, bearer_token, token_matches
from channels.payload import PayloadError, parse_inbound
from channels.ratelimit import RateLimiter
from channels.settings import IntranetSettings
from channels.sources import sources_from_text, with_urls

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
WEB_PAGE = HERE / "web" / "index.html"
OPENAPI = HERE / "openapi.yaml"


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> HTTPResponse:
    return response.json({"error": code, "message": message}, status=status, headers=headers)


class IntranetOutput(CollectingOutputChannel):
    """Collects replies as the REST channel does, but keeps one bot utterance in one message
    (text, buttons and custom together) and puts the answer's sources in `custom.sources`."""

    def __init__(self, notes_base_url: str = "") -> None:
        super().__init__()
        self.notes_base_url = notes_base_url

    @classmethod
    def name(cls) -> str:
        return "intranet"

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        text = message.get("text")
        custom = message.get("custom")
        custom = dict(custom) if isinstance(custom, dict) else ({"data": custom} if custom else {})
        sources = custom.get("sources")
        if not isinstance(sources, list):
            sources = sources_from_text(text or "")
        if sources:
            custom["sources"] = with_urls(sources, self.notes_base_url)
        buttons = message.get("buttons") or message.get("quick_replies")
        out = {
            "recipient_id": recipient_id,
            "text": text,
            "buttons": buttons or None,
            "image": message.get("image"),
            "attachment": message.get("attachment"),
            "custom": custom or None,
        }
        if any(value is not None for key, value in out.items() if key != "recipient_id"):
            await self._persist_message({k: v for k, v in out.items() if v is not None})


class IntranetInput(InputChannel):
    """`channels.intranet.IntranetInput` in credentials.yml; configured by INTRANET_* variables."""

    @classmethod
    def name(cls) -> str:
        return "intranet"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def __init__(self, settings: IntranetSettings | None = None) -> None:
        self.settings = settings or IntranetSettings()
        self.signatures = (
            SignatureChecker(self.settings.hmac_secret, self.settings.hmac_window_s)
            if self.settings.hmac_secret
            else None
        )
        self.limiter = RateLimiter(self.settings.rate_per_minute, self.settings.rate_burst)
        if not self.settings.tokens and not self.signatures:
            logger.warning(
                "intranet channel: neither INTRANET_TOKENS nor INTRANET_HMAC_SECRET is set; "
                "every request will be refused with 401"
            )

    def _authorization_error(self, request: Request, body: bytes | None) -> str | None:
        """None when the caller is authenticated. With body None only the Bearer header is checked."""
        token = bearer_token(request.headers.get("authorization"))
        if token is not None:
            return None if token_matches(token, self.settings.tokens) else "invalid token"
        if request.headers.get(SIGNATURE_HEADER) is None and request.headers.get(TIMESTAMP_HEADER) is None:
            return "missing credentials: send 'Authorization: Bearer <token>' or a signed request"
        if self.signatures is None:
            return "signed requests are not enabled"
        if body is None:
            return None  # decided once the body is read
        return self.signatures.check(
            request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER), body, time.time()
        )

    async def _read_body(self, request: Request) -> bytes | None:
        """The body, or None as soon as it exceeds the limit (never buffered past it)."""
        limit = self.settings.max_body_bytes
        chunks, size = [], 0
        assert request.stream is not None
        async for chunk in request.stream:
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("intranet_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/chat", methods=["GET"])
        async def chat_page(request: Request) -> HTTPResponse:
            return await response.file(WEB_PAGE, mime_type="text/html; charset=utf-8")

        @hook.route("/openapi.yaml", methods=["GET"])
        async def openapi(request: Request) -> HTTPResponse:
            return await response.file(OPENAPI, mime_type="application/yaml")

        @hook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            return await self.handle(request, on_new_message)

        return hook

    async def handle(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        too_large = f"the body must be at most {self.settings.max_body_bytes} bytes"
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            return error(413, "body_too_large", too_large)
        # A wrong Bearer token is refused before the body is even read.
        reason = self._authorization_error(request, None)
        if reason:
            return self._unauthorized(request, reason)
        body = await self._read_body(request)
        if body is None:
            return error(413, "body_too_large", too_large)
        reason = self._authorization_error(request, body)
        if reason:
            return self._unauthorized(request, reason)
        try:
            inbound = parse_inbound(body)
        except PayloadError as exc:
            return error(exc.status, exc.code, exc.message)
        wait_s = self.limiter.acquire(inbound.sender)
        if wait_s > 0:
            logger.info("intranet rate limited sender=%s retry_after_s=%.1f", inbound.sender, wait_s)
            return error(
                429,
                "rate_limited",
                "too many messages from this sender; retry later",
                headers={"Retry-After": str(max(1, round(wait_s)))},
            )
        collector = IntranetOutput(self.settings.notes_base_url)
        message = UserMessage(
            inbound.message, collector, inbound.sender, input_channel=self.name(), metadata=inbound.metadata
        )
        try:
            await on_new_message(message)
        except asyncio.CancelledError:
            logger.error("intranet message timed out sender=%s", inbound.sender)
        except Exception:
            # Rasa's own REST channel answers with what it has; so do we, and the log says why.
            logger.exception("intranet message failed sender=%s", inbound.sender)
        return response.json(collector.messages)

    @staticmethod
    def _unauthorized(request: Request, reason: str) -> HTTPResponse:
        logger.info("intranet refused ip=%s reason=%s", request.ip, reason)
        return error(401, "unauthorized", reason, headers={"WWW-Authenticate": 'Bearer realm="intranet"'})
