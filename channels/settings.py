"""Channel settings, read from the environment; defaults are safe (nothing is open by default).

Plain Python 3.10+, no Rasa import: the Rasa channel and the Telegram bridge both read it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field

# A credential's name is the first part of every conversation id it reaches ("<name>:<sender>"),
# so it must never contain ":" (the split stays unambiguous) and is kept short and printable.
CREDENTIAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
# The name every HMAC-signed request gets: whoever holds the secret is one caller.
HMAC_CREDENTIAL = "hmac"
# Derived names of bare tokens; a given name may not look like one, or it could share their conversations.
DERIVED_NAME = re.compile(r"t[0-9a-f]{10}")
# A source in frame-ancestors: 'self', 'none', or [scheme://]host[:port] with an optional "*." prefix.
FRAME_SOURCE = re.compile(r"'self'|'none'|(?:https?://)?(?:\*\.)?[A-Za-z0-9.-]+(?::(?:[0-9]{1,5}|\*))?")


@dataclass(frozen=True)
class Credential:
    """A service token and the name its conversations are kept under (never log `token`)."""

    name: str
    token: str = field(repr=False)


def derived_name(token: str) -> str:
    """The name of a token configured without one: stable, and reveals nothing usable of the token."""
    return "t" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:10]


def _split_entry(entry: str) -> tuple[str | None, str]:
    # ":" is not a Bearer token character (RFC 6750 b64token), so an entry with one is `name:token`.
    name, colon, token = entry.partition(":")
    return (name, token) if colon else (None, entry)


def parse_tokens(value: str) -> tuple[Credential, ...]:
    """`INTRANET_TOKENS`: comma-separated `name:token` or bare `token` entries.

    Several entries may share a name (rotating a token keeps its conversations). Raises ValueError
    on a malformed entry; the message names the entry's position, never its token.
    """
    credentials: list[Credential] = []
    for position, entry in enumerate((e.strip() for e in value.split(",")), start=1):
        if not entry:
            continue
        name, token = _split_entry(entry)
        if name is None:
            name = derived_name(token)
        elif not CREDENTIAL_NAME.fullmatch(name) or name == HMAC_CREDENTIAL or DERIVED_NAME.fullmatch(name):
            raise ValueError(
                f"INTRANET_TOKENS entry {position}: the name must be 1-32 of A-Z a-z 0-9 _ . - (starting "
                f"with a letter or digit), not '{HMAC_CREDENTIAL}' nor of the form t + 10 hex digits"
            )
        if not token.strip() or token != token.strip():
            raise ValueError(f"INTRANET_TOKENS entry {position}: empty token or spaces around it")
        if any(c.token == token for c in credentials):
            raise ValueError(f"INTRANET_TOKENS entry {position}: the same token is listed twice")
        credentials.append(Credential(name, token))
    return tuple(credentials)


def first_token(value: str) -> str:
    """The token part of the first `INTRANET_TOKENS` entry (the Telegram bridge's default credential)."""
    for entry in value.split(","):
        if entry.strip():
            return _split_entry(entry.strip())[1].strip()
    return ""


def parse_frame_ancestors(value: str) -> str:
    """`INTRANET_FRAME_ANCESTORS` (comma- or space-separated) as a CSP source list; ValueError if unsafe."""
    sources = [s for s in re.split(r"[\s,]+", value.strip()) if s] or ["'self'"]
    bad = [s for s in sources if not FRAME_SOURCE.fullmatch(s)]
    if bad:
        raise ValueError(f"INTRANET_FRAME_ANCESTORS: not a frame source: {bad[0][:40]!r}")
    return " ".join(sources)


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def _list(name: str, default: str = "") -> tuple[str, ...]:
    return tuple(item.strip() for item in _env(name, default).split(",") if item.strip())


@dataclass(frozen=True)
class IntranetSettings:
    # No token and no secret configured means every request is refused (401), never an open door.
    credentials: tuple[Credential, ...] = field(default_factory=lambda: parse_tokens(_env("INTRANET_TOKENS")))
    hmac_secret: str = field(default_factory=lambda: _env("INTRANET_HMAC_SECRET"), repr=False)
    hmac_window_s: int = field(default_factory=lambda: int(_env("INTRANET_HMAC_WINDOW_S", "300")))
    max_body_bytes: int = field(default_factory=lambda: int(_env("INTRANET_MAX_BODY_BYTES", "16384")))
    # Per conversation (credential + sender): what one person may send.
    rate_per_minute: float = field(default_factory=lambda: float(_env("INTRANET_RATE_PER_MINUTE", "30")))
    rate_burst: int = field(default_factory=lambda: int(_env("INTRANET_RATE_BURST", "10")))
    # Per credential and per client address: generous, since the Telegram bridge is one credential
    # and one address for all its users; they stop a caller that rotates sender ids.
    credential_per_minute: float = field(
        default_factory=lambda: float(_env("INTRANET_RATE_PER_CREDENTIAL_PER_MINUTE", "600"))
    )
    credential_burst: int = field(
        default_factory=lambda: int(_env("INTRANET_RATE_PER_CREDENTIAL_BURST", "60"))
    )
    address_per_minute: float = field(
        default_factory=lambda: float(_env("INTRANET_RATE_PER_ADDRESS_PER_MINUTE", "600"))
    )
    address_burst: int = field(default_factory=lambda: int(_env("INTRANET_RATE_PER_ADDRESS_BURST", "60")))
    # Failed authentications per client address before it gets 429 (refilled at this rate per minute).
    auth_failures_per_minute: float = field(
        default_factory=lambda: float(_env("INTRANET_AUTH_FAILURES_PER_MINUTE", "10"))
    )
    # Peers whose X-Forwarded-For names the client (a reverse proxy); default: one on this host.
    # Addresses or networks (CIDR); "none" trusts no proxy.
    trusted_proxies: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            p for p in _list("INTRANET_TRUSTED_PROXIES", "127.0.0.1,::1") if p.lower() != "none"
        )
    )
    # Who may show the web chat in a frame (an intranet portal): CSP frame-ancestors sources.
    frame_ancestors: str = field(
        default_factory=lambda: parse_frame_ancestors(_env("INTRANET_FRAME_ANCESTORS", "'self'"))
    )
    # Where people can read a note (e.g. the notes repository in the intranet GitLab); adds links.
    notes_base_url: str = field(default_factory=lambda: _env("INTRANET_NOTES_BASE_URL"))


@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(default_factory=lambda: _env("TELEGRAM_BOT_TOKEN"), repr=False)
    # Bot API location; tests point it at a fake server on loopback.
    api_base_url: str = field(
        default_factory=lambda: _env("TELEGRAM_API_BASE_URL", "https://api.telegram.org")
    )
    # User or chat ids served; "*" serves everyone. Empty refuses everyone.
    allowed_ids: tuple[str, ...] = field(default_factory=lambda: _list("TELEGRAM_ALLOWED_IDS"))
    rasa_url: str = field(default_factory=lambda: _env("RASA_URL", "http://127.0.0.1:5005"))
    # The bridge's service credential for the intranet channel; unset, the token of the first
    # INTRANET_TOKENS entry (`name:token` or a bare token).
    rasa_token: str = field(
        default_factory=lambda: _env("TELEGRAM_RASA_TOKEN") or first_token(_env("INTRANET_TOKENS")),
        repr=False,
    )
    rasa_timeout_s: float = field(default_factory=lambda: float(_env("TELEGRAM_RASA_TIMEOUT_S", "120")))
    rate_per_minute: float = field(default_factory=lambda: float(_env("TELEGRAM_RATE_PER_MINUTE", "20")))
    rate_burst: int = field(default_factory=lambda: int(_env("TELEGRAM_RATE_BURST", "5")))
    # Telegram's limit is 4096; a smaller value only makes replies split sooner.
    max_message_chars: int = field(default_factory=lambda: int(_env("TELEGRAM_MAX_MESSAGE_CHARS", "4096")))
    # Webhook mode when a public URL is given; long polling otherwise.
    webhook_url: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_URL"))
    webhook_secret: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_SECRET"), repr=False)
    webhook_listen: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_LISTEN", "127.0.0.1"))
    webhook_port: int = field(default_factory=lambda: int(_env("TELEGRAM_WEBHOOK_PORT", "8443")))
    poll_timeout_s: int = field(default_factory=lambda: int(_env("TELEGRAM_POLL_TIMEOUT_S", "10")))
