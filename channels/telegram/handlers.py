"""The bridge's conversation: what a Telegram update becomes at the Rasa server, and the reply."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from telegram import Chat, Message, Update, User
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    ContextTypes,
)

from channels.payload import MAX_MESSAGE_BYTES
from channels.rasa_client import RasaBusy, RasaClient, RasaUnavailable
from channels.ratelimit import RateLimiter
from channels.settings import TelegramSettings
from channels.telegram_format import CallbackStore, keyboard, split_text
from llm_fallback.text.replies import say

log = logging.getLogger("channels.telegram")


TYPING_REFRESH_S = 4.5  # Telegram shows "typing" for about 5 s per chat action
# What /start and /help ask Rasa, so the greeting and the help come from the domain, in the user's language.
ASK = {"start": {"zh": "你好", "en": "hello"}, "help": {"zh": "帮助", "en": "help"}}
RESTART = "/restart"


def user_lang(user: User | None) -> str:
    code = (user.language_code or "") if user else ""
    return "zh" if code.lower().startswith("zh") else "en"


def sender_id(chat: Chat) -> str:
    """One Rasa conversation per Telegram chat; the prefix keeps ids apart from other channels."""
    return f"telegram-{chat.id}"


def metadata_of(chat: Chat, user: User | None) -> dict[str, Any]:
    return {
        "telegram": {
            "chat_id": chat.id,
            "chat_type": chat.type,
            "user_id": user.id if user else None,
            "username": user.username if user else None,
            "language_code": user.language_code if user else None,
        }
    }


class Bridge:
    """Handlers and state of one bridge process (allow-list, rate limits, per-chat order)."""

    def __init__(self, settings: TelegramSettings, rasa: RasaClient) -> None:
        self.settings = settings
        self.rasa = rasa
        self.allowed = set(settings.allowed_ids)
        self.limiter = RateLimiter(settings.rate_per_minute, settings.rate_burst)
        self.callbacks = CallbackStore()
        self._locks: dict[int, asyncio.Lock] = {}
        self._warned_until: dict[int, float] = {}

    # --- gate: allow-list first, for every update -------------------------------------------------
    def is_allowed(self, update: Update) -> bool:
        if "*" in self.allowed:
            return True
        ids = {str(x.id) for x in (update.effective_user, update.effective_chat) if x is not None}
        return bool(ids & self.allowed)

    async def gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self.is_allowed(update):
            return
        user, chat = update.effective_user, update.effective_chat
        log.info("telegram refused user=%s chat=%s", user.id if user else None, chat.id if chat else None)
        text = say("telegram_refused", user_lang(user), id=user.id if user else (chat.id if chat else "?"))
        # Refuse what a person typed or tapped; joins, stickers and the like are just dropped.
        with contextlib.suppress(TelegramError):
            if update.callback_query:
                await update.callback_query.answer(text, show_alert=True)
            elif update.message and update.message.text:
                await update.message.reply_text(text)
        raise ApplicationHandlerStop

    # --- commands ---------------------------------------------------------------------------------
    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._ask_with_hint(update, context, "start")

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._ask_with_hint(update, context, "help")

    async def _ask_with_hint(self, update: Update, context: ContextTypes.DEFAULT_TYPE, command: str) -> None:
        lang = user_lang(update.effective_user)
        if await self.converse(update, context, ASK[command][lang]) is not None:
            await context.bot.send_message(update.effective_chat.id, say("commands", lang))

    async def reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Rasa may answer /restart with nothing (no utter_restart in the domain): then the bridge's
        # own text confirms it, and only then, so the user never reads two confirmations.
        if await self.converse(update, context, RESTART, silent_ok=True) == 0:
            lang = user_lang(update.effective_user)
            await context.bot.send_message(update.effective_chat.id, say("reset", lang))

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(say("unknown_command", user_lang(update.effective_user)))

    # --- messages and buttons ---------------------------------------------------------------------
    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.converse(update, context, update.message.text)

    async def non_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(say("non_text", user_lang(update.effective_user)))

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        lang = user_lang(update.effective_user)
        payload = self.callbacks.payload_for(query.data or "")
        if payload is None or update.effective_chat is None:
            await query.answer(say("expired", lang))
            return
        await query.answer()
        message = query.message
        if isinstance(message, Message) and message.text:
            # Keep the question visible, drop the keyboard, show what was chosen.
            title = next(
                (
                    b.text
                    for row in (message.reply_markup.inline_keyboard if message.reply_markup else ())
                    for b in row
                    if b.callback_data == query.data
                ),
                payload,
            )
            with contextlib.suppress(TelegramError):
                await query.edit_message_text(f"{message.text}\n\n→ {title}")
        await self.converse(update, context, payload)

    async def converse(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, silent_ok: bool = False
    ) -> int | None:
        """Send `text` to Rasa as this chat and deliver the replies: how many messages were sent, or
        None when the user got an explanation instead (too fast, too long, Rasa unavailable).

        No reply at all is a failure (the user would be left waiting) unless `silent_ok`."""
        chat, user = update.effective_chat, update.effective_user
        lang = user_lang(user)
        wait_s = self.limiter.acquire(str(chat.id))
        if wait_s > 0:
            log.info("telegram rate limited chat=%s", chat.id)
            # One warning per waiting period, not one per message of a flood.
            if self._warned_until.get(chat.id, 0.0) < time.monotonic():
                self._warned_until[chat.id] = time.monotonic() + wait_s
                await context.bot.send_message(
                    chat.id, say("too_fast", lang, s=max(1, round(wait_s)))
                )
            return None
        size = len(text.encode("utf-8"))
        if size > MAX_MESSAGE_BYTES:
            # Refused here, not split: halves of one question would get two unrelated answers, and
            # the webhook's 413 would otherwise reach the user as "unavailable".
            log.info("telegram message too long chat=%s bytes=%d", chat.id, size)
            await context.bot.send_message(
                chat.id, say("too_long", lang, n=size, limit=MAX_MESSAGE_BYTES)
            )
            return None
        async with self._lock(chat.id), self._typing(context, chat.id):
            try:
                replies = await self.rasa.send(sender_id(chat), text, metadata_of(chat, user))
            except RasaBusy:
                log.warning("rasa busy chat=%s", chat.id)
                await context.bot.send_message(chat.id, say("busy", lang))
                return None
            except RasaUnavailable as exc:
                log.warning("rasa unavailable chat=%s: %s", chat.id, exc)
                await context.bot.send_message(chat.id, say("unavailable", lang))
                return None
            sent = await self.deliver(context, chat.id, replies)
            if not sent and not silent_ok:
                log.warning("rasa sent no reply chat=%s", chat.id)
                # The same words the Rasa channels use for a turn that answered nothing.
                await context.bot.send_message(chat.id, say("unavailable", lang))
                return None
        return sent

    async def deliver(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, replies: list[dict[str, Any]]
    ) -> int:
        """Send Rasa's replies; the number of Telegram messages sent (0: there was nothing to say)."""
        sent = 0
        for reply in replies:
            text = str(reply.get("text") or "")
            if reply.get("image"):
                text = f"{text}\n{reply['image']}".strip()
            markup = keyboard(reply.get("buttons"), self.callbacks)
            parts = split_text(text, self.settings.max_message_chars) or (["…"] if markup else [])
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                await context.bot.send_message(chat_id, part, reply_markup=markup if last else None)
                sent += 1
        return sent

    def _lock(self, chat_id: int) -> asyncio.Lock:
        """Messages of one chat reach Rasa in order; different chats run side by side."""
        if len(self._locks) > 10_000:
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        return self._locks.setdefault(chat_id, asyncio.Lock())

    @contextlib.asynccontextmanager
    async def _typing(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> AsyncIterator[None]:
        async def keep_typing() -> None:
            while True:
                with contextlib.suppress(TelegramError):
                    await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
                await asyncio.sleep(TYPING_REFRESH_S)

        task = asyncio.create_task(keep_typing())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # The user never sees a stack trace; the log gets one line and the cause.
        log.error("telegram update failed: %s: %s", type(context.error).__name__, context.error)
