"""The python-telegram-bot application: handlers wired to the Bridge, commands, the allow-list."""

from __future__ import annotations

import contextlib
import logging

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from channels.rasa_client import RasaClient
from channels.settings import TelegramSettings
from channels.telegram.handlers import Bridge

log = logging.getLogger("channels.telegram")


def build_application(settings: TelegramSettings) -> Application:
    rasa = RasaClient(settings.rasa_url, settings.rasa_token, settings.rasa_timeout_s)
    bridge = Bridge(settings, rasa)

    async def post_init(app: Application) -> None:
        with contextlib.suppress(TelegramError):
            await app.bot.set_my_commands(
                [
                    BotCommand("start", "start / 开始"),
                    BotCommand("help", "what I can do / 帮助"),
                    BotCommand("reset", "start over / 重新开始"),
                ]
            )

    async def post_shutdown(app: Application) -> None:
        await rasa.aclose()

    api = settings.api_base_url.rstrip("/")
    app = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .concurrent_updates(16)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    new_message = filters.UpdateType.MESSAGE
    app.add_handler(TypeHandler(Update, bridge.gate), group=-1)
    app.add_handler(CommandHandler("start", bridge.start, filters=new_message))
    app.add_handler(CommandHandler("help", bridge.help, filters=new_message))
    app.add_handler(CommandHandler("reset", bridge.reset, filters=new_message))
    app.add_handler(MessageHandler(new_message & filters.COMMAND, bridge.unknown_command))
    app.add_handler(MessageHandler(new_message & filters.TEXT, bridge.text))
    app.add_handler(CallbackQueryHandler(bridge.button))
    # Joins, leaves, pins ... are ignored; stickers, photos, voice ... get a polite word.
    app.add_handler(MessageHandler(new_message & ~filters.StatusUpdate.ALL & ~filters.TEXT, bridge.non_text))
    # Edited messages and channel posts match no handler: ignored, without an error.
    app.add_error_handler(bridge.on_error)
    return app
