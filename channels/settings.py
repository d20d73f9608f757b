"""Channel settings, read from the environment; defaults are safe (nothing is open by default)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def _list(name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in _env(name).split(",") if item.strip())


@dataclass(frozen=True)
class IntranetSettings:
    # No token and no secret configured means every request is refused (401), never an open door.
    tokens: tuple[str, ...] = field(default_factory=lambda: _list("INTRANET_TOKENS"))
    hmac_secret: str = field(default_factory=lambda: _env("INTRANET_HMAC_SECRET"))
    hmac_window_s: int = field(default_factory=lambda: int(_env("INTRANET_HMAC_WINDOW_S", "300")))
    max_body_bytes: int = field(default_factory=lambda: int(_env("INTRANET_MAX_BODY_BYTES", "16384")))
    rate_per_minute: float = field(default_factory=lambda: float(_env("INTRANET_RATE_PER_MINUTE", "30")))
    rate_burst: int = field(default_factory=lambda: int(_env("INTRANET_RATE_BURST", "10")))
    # Where people can read a note (e.g. the notes repository in the intranet GitLab); adds links.
    notes_base_url: str = field(default_factory=lambda: _env("INTRANET_NOTES_BASE_URL"))


@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(default_factory=lambda: _env("TELEGRAM_BOT_TOKEN"))
    # Bot API location; tests point it at a fake server on loopback.
    api_base_url: str = field(
        default_factory=lambda: _env("TELEGRAM_API_BASE_URL", "https://api.telegram.org")
    )
    # User or chat ids served; "*" serves everyone. Empty refuses everyone.
    allowed_ids: tuple[str, ...] = field(default_factory=lambda: _list("TELEGRAM_ALLOWED_IDS"))
    rasa_url: str = field(default_factory=lambda: _env("RASA_URL", "http://127.0.0.1:5005"))
    # The bridge's service credential for the intranet channel; the first INTRANET_TOKENS entry if unset.
    rasa_token: str = field(
        default_factory=lambda: _env("TELEGRAM_RASA_TOKEN") or next(iter(_list("INTRANET_TOKENS")), "")
    )
    rasa_timeout_s: float = field(default_factory=lambda: float(_env("TELEGRAM_RASA_TIMEOUT_S", "120")))
    rate_per_minute: float = field(default_factory=lambda: float(_env("TELEGRAM_RATE_PER_MINUTE", "20")))
    rate_burst: int = field(default_factory=lambda: int(_env("TELEGRAM_RATE_BURST", "5")))
    # Telegram's limit is 4096; a smaller value only makes replies split sooner.
    max_message_chars: int = field(default_factory=lambda: int(_env("TELEGRAM_MAX_MESSAGE_CHARS", "4096")))
    # Webhook mode when a public URL is given; long polling otherwise.
    webhook_url: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_URL"))
    webhook_secret: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_SECRET"))
    webhook_listen: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_LISTEN", "127.0.0.1"))
    webhook_port: int = field(default_factory=lambda: int(_env("TELEGRAM_WEBHOOK_PORT", "8443")))
    poll_timeout_s: int = field(default_factory=lambda: int(_env("TELEGRAM_POLL_TIMEOUT_S", "10")))
