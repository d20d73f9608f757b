"""Webhook mode: Telegram's secret token checked in constant time before any update is handled."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import signal
from urllib.parse import urlparse

from telegram import Update
from telegram.ext import (
    Application,
)

from channels.settings import TelegramSettings

log = logging.getLogger("channels.telegram")


async def run_webhook(app: Application, settings: TelegramSettings) -> None:
    """Webhook mode on our own small server, so the secret check is constant-time and logged."""
    import tornado.httpserver
    import tornado.web

    secret = settings.webhook_secret or secrets.token_urlsafe(32)
    path = urlparse(settings.webhook_url).path or "/telegram"

    class WebhookHandler(tornado.web.RequestHandler):
        async def post(self) -> None:
            given = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            if not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
                log.warning(
                    "telegram webhook refused ip=%s: wrong or missing secret token", self.request.remote_ip
                )
                self.set_status(403)
                self.finish({"error": "forbidden"})
                return
            try:
                update = Update.de_json(json.loads(self.request.body), app.bot)
            except (ValueError, TypeError, KeyError, AttributeError):
                self.set_status(400)
                self.finish({"error": "bad update"})
                return
            await app.update_queue.put(update)
            self.finish({"ok": True})

    class HealthHandler(tornado.web.RequestHandler):
        def get(self) -> None:
            self.finish({"status": "ok"})

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with app:
        await app.start()
        server = tornado.httpserver.HTTPServer(
            tornado.web.Application([(path, WebhookHandler), ("/healthz", HealthHandler)]),
            max_body_size=1 << 20,
        )
        server.listen(settings.webhook_port, settings.webhook_listen)
        await app.bot.set_webhook(settings.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
        log.info(
            "telegram bridge: webhook mode on %s:%s%s", settings.webhook_listen, settings.webhook_port, path
        )
        await stop.wait()
        server.stop()
        await app.stop()
