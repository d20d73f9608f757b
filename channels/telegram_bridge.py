"""Telegram bridge: Telegram users talk to the Rasa server through the intranet webhook.

    TELEGRAM_BOT_TOKEN=... TELEGRAM_ALLOWED_IDS=... INTRANET_TOKENS=... python -m channels.telegram_bridge

Long polling by default (works behind a firewall, no public URL); webhook mode when
TELEGRAM_WEBHOOK_URL is set, checking Telegram's X-Telegram-Bot-Api-Secret-Token in constant time.
Runs in the app environment; it never imports Rasa (see channels/settings.py for every setting).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from telegram import Update

from channels.settings import TelegramSettings
from channels.telegram.app import build_application
from channels.telegram.webhook import run_webhook

log = logging.getLogger("channels.telegram")


def configuration_error(settings: TelegramSettings) -> str | None:
    if not settings.token:
        return "TELEGRAM_BOT_TOKEN is not set (ask @BotFather for one)."
    if not settings.allowed_ids:
        return (
            "TELEGRAM_ALLOWED_IDS is not set: list the Telegram user or chat ids to serve, comma-separated "
            "(or '*' to serve everyone)."
        )
    if not settings.rasa_token:
        return "No service token for the intranet channel: set TELEGRAM_RASA_TOKEN or INTRANET_TOKENS."
    return None


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = TelegramSettings()
    problem = configuration_error(settings)
    if problem:
        print(f"telegram bridge: {problem}", file=sys.stderr)
        return 2
    app = build_application(settings)
    if settings.webhook_url:
        asyncio.run(run_webhook(app, settings))
    else:
        log.info("telegram bridge: long polling, Rasa at %s", settings.rasa_url)
        app.run_polling(allowed_updates=Update.ALL_TYPES, timeout=settings.poll_timeout_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
