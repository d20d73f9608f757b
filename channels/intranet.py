"""The intranet webhook: Rasa's REST channel with authentication, validation and rate limits.

Loaded by the Rasa server from credentials.yml (`channels.intranet.IntranetInput:`):
    POST /webhooks/intranet/webhook   {"sender", "message", "metadata"?} -> [bot messages]
    GET  /webhooks/intranet/          health
    GET  /webhooks/intranet/chat      the web chat page (channels/web/index.html)
    GET  /webhooks/intranet/openapi.yaml
Checks run cheapest first: an address that keeps failing authentication is turned away before
any signature work, and nothing unauthenticated, malformed or over a limit reaches Rasa. The
conversation is `<credential name>:<sender>` (channels/auth.py), so callers holding different
credentials never share, reset or throttle each other's conversations.
See channels/openapi.yaml for the contract.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.auth import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Authenticator,
    SignatureChecker,
    conversation_id,
)
from channels.payload import PayloadError, parse_inbound
from channels.ratelimit import IntranetLimits, RateLimiter, Refusal, client_address, parse_networks
from channels.settings import IntranetSettings
from channels.sources import sources_from_text, with_urls
from channels.unavailable import answer_or_apologise

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
WEB_PAGE = HERE / "web" / "index.html"
OPENAPI = HERE / "openapi.yaml"

# On every response: no MIME sniffing, no Referer to wherever a link leads.
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# JSON and YAML are data, never a document to run, style or frame.
DATA_HEADERS = {
    **COMMON_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
}
REPLY_HEADERS = {**DATA_HEADERS, "Cache-Control": "no-store"}  # replies quote the conversation
RETRY_AFTER_CAP_S = 3600
# Content-Length header lines in a raw request head (see refuse_bad_content_length).
CONTENT_LENGTH_LINE = re.compile(rb"\r\ncontent-length:([^\r\n]*)", re.IGNORECASE)
ASCII_DIGITS = re.compile(rb"[0-9]{1,18}")


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> HTTPResponse:
    return response.json(
        {"error": code, "message": message}, status=status, headers={**REPLY_HEADERS, **(headers or {})}
    )


class _InlineBlocks(HTMLParser):
    """The text of each inline <script> and <style> block, as the browser hashes it (comments and
    a tag name inside one are not blocks)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.blocks: dict[str, list[str]] = {"script": [], "style": []}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.blocks:
            self._open = tag
            self.blocks[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open:
            self.blocks[self._open][-1] += data


def _hash_source(block: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(block.encode("utf-8")).digest()).decode("ascii") + "'"


def inline_hashes(html: str) -> dict[str, str]:
    """CSP hash sources of the page's inline scripts and styles, so neither needs 'unsafe-inline'."""
    parser = _InlineBlocks()
    parser.feed(html)
    parser.close()
    return {tag: " ".join(map(_hash_source, blocks)) or "'none'" for tag, blocks in parser.blocks.items()}


def page_policy(html: str, frame_ancestors: str) -> str:
    """The chat page's Content-Security-Policy: its own inline code, its own origin, nothing else."""
    hashes = inline_hashes(html)
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {hashes['script']}",
            f"style-src {hashes['style']}",
            "connect-src 'self'",
            # The page shows no images (an `image` reply is a link), so none are fetched.
            "img-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {frame_ancestors}",
            # The page writes text with textContent only; the browser enforces that no HTML sink is used.
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    )


def retry_after(wait_s: float) -> str:
    """Whole seconds, at least 1; capped, so a limit set to 0 per minute still gives a number."""
    if not math.isfinite(wait_s):
        return str(RETRY_AFTER_CAP_S)
    return str(max(1, min(RETRY_AFTER_CAP_S, math.ceil(wait_s))))


def build_limits(settings: IntranetSettings) -> IntranetLimits:
    failures = settings.auth_failures_per_minute
    return IntranetLimits(
        failures=RateLimiter(failures, max(1, int(failures))),
        per_credential=RateLimiter(settings.credential_per_minute, settings.credential_burst),
        per_address=RateLimiter(settings.address_per_minute, settings.address_burst),
        per_conversation=RateLimiter(settings.rate_per_minute, settings.rate_burst),
    )


async def refuse_bad_content_length(head: bytes, **_: Any) -> None:
    """Sanic 21.12 reads Content-Length with int(): "²" raised a 500 before any route ran, and
    "١٢" (Arabic-Indic digits) was read as 12, which a proxy in front may count differently.
    Raising here, while sanic parses the head, makes it a 400 for every route of the server."""
    for value in CONTENT_LENGTH_LINE.findall(head):
        if not ASCII_DIGITS.fullmatch(value.strip(b" \t")):
            raise InvalidUsage("Content-Length must be ASCII digits")


class IntranetOutput(CollectingOutputChannel):
    """Collects replies as the REST channel does, but keeps one bot utterance in one message
    (text, buttons and custom together) and puts the answer's sources in `custom.sources`.

    `recipient_id` is the sender as the caller sent it, not the namespaced conversation id."""

    def __init__(self, notes_base_url: str = "", reply_to: str | None = None) -> None:
        super().__init__()
        self.notes_base_url = notes_base_url
        self.reply_to = reply_to

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
            "recipient_id": self.reply_to if self.reply_to is not None else recipient_id,
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
        signatures = (
            SignatureChecker(self.settings.hmac_secret, self.settings.hmac_window_s)
            if self.settings.hmac_secret
            else None
        )
        self.auth = Authenticator(self.settings.credentials, signatures)
        self.limits = build_limits(self.settings)
        self.trusted_proxies = parse_networks(self.settings.trusted_proxies)
        names = sorted({c.name for c in self.settings.credentials})  # names only, never a token
        logger.info(
            "intranet channel: callers=%s hmac=%s trusted_proxies=%d",
            ",".join(names) or "-",
            "on" if signatures else "off",
            len(self.trusted_proxies),
        )
        if not self.settings.credentials and not signatures:
            logger.warning(
                "intranet channel: neither INTRANET_TOKENS nor INTRANET_HMAC_SECRET is set; "
                "every request will be refused with 401"
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
        # Blueprint signals are never exclusive: this one sees every request's head.
        hook.signal("http.lifecycle.read_head")(refuse_bad_content_length)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"}, headers=DATA_HEADERS)

        @hook.route("/chat", methods=["GET"])
        async def chat_page(request: Request) -> HTTPResponse:
            # Read per request so the policy's hashes always match the bytes served.
            html = WEB_PAGE.read_bytes().decode("utf-8")
            policy = page_policy(html, self.settings.frame_ancestors)
            return response.html(html, headers={**COMMON_HEADERS, "Content-Security-Policy": policy})

        @hook.route("/openapi.yaml", methods=["GET"])
        async def openapi(request: Request) -> HTTPResponse:
            return await response.file(OPENAPI, mime_type="application/yaml", headers=DATA_HEADERS)

        @hook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            return await self.handle(request, on_new_message)

        return hook

    def _too_large(self) -> HTTPResponse:
        return error(413, "body_too_large", f"the body must be at most {self.settings.max_body_bytes} bytes")

    async def _authenticate(self, request: Request, address: str) -> tuple[str, bytes] | HTTPResponse:
        """The caller's credential name and the body, or the response refusing it (401, 413, 429)."""
        blocked = self.limits.auth_blocked(address)
        if blocked:  # before any signature work: a guesser costs one dict lookup per request
            return self._too_many(blocked)
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            return self._too_large()
        headers = request.headers
        timestamp, signature = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
        # A wrong Bearer token is refused before the body is even read.
        verdict = self.auth.from_headers(headers.get("authorization"), timestamp, signature)
        if verdict.reason:
            return self._unauthorized(address, verdict.reason)
        body = await self._read_body(request)
        if body is None:
            return self._too_large()
        if verdict.credential is None:
            verdict = self.auth.with_body(timestamp, signature, body, time.time())
            if verdict.reason or verdict.credential is None:
                return self._unauthorized(address, verdict.reason or "not authenticated")
        return verdict.credential, body

    async def handle(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        address = client_address(request.ip, request.headers.get("x-forwarded-for"), self.trusted_proxies)
        authenticated = await self._authenticate(request, address)
        if isinstance(authenticated, HTTPResponse):
            return authenticated
        credential, body = authenticated
        try:
            inbound = parse_inbound(body)
        except PayloadError as exc:
            return error(exc.status, exc.code, exc.message)
        conversation = conversation_id(credential, inbound.sender)
        refusal = self.limits.admit(credential, address, conversation)
        if refusal:
            logger.debug(
                "intranet rate limited credential=%s scope=%r retry_after_s=%.1f",
                credential,
                refusal.scope,
                refusal.retry_after_s,
            )
            return self._too_many(refusal)
        collector = IntranetOutput(self.settings.notes_base_url, reply_to=inbound.sender)
        message = UserMessage(
            inbound.message, collector, conversation, input_channel=self.name(), metadata=inbound.metadata
        )
        await answer_or_apologise(on_new_message, message, lambda: len(collector.messages))
        return response.json(collector.messages, headers=REPLY_HEADERS)

    def _unauthorized(self, address: str, reason: str) -> HTTPResponse:
        if self.limits.auth_failed(address):
            logger.info(
                "intranet auth throttled address=%s retry_after_s=%s",
                address,
                retry_after(self.limits.failures.wait(address)),
            )
        logger.debug("intranet refused address=%s reason=%r", address, reason)
        return error(401, "unauthorized", reason, headers={"WWW-Authenticate": 'Bearer realm="intranet"'})

    @staticmethod
    def _too_many(refusal: Refusal) -> HTTPResponse:
        return error(
            429,
            "rate_limited",
            f"too many {refusal.scope}; retry later",
            headers={"Retry-After": retry_after(refusal.retry_after_s)},
        )
