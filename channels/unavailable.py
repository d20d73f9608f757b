"""Never silence: when Rasa sends nothing back, the user hears that the assistant is unavailable.

Every turn of this assistant answers something (greetings, answers, refusals, Rasa's fallback),
so a turn that sent nothing means a dependency failed: the action server is down or timed out
(Rasa logs the error and carries on with no events), or the turn raised. Rasa's own commands
(`/restart`, `/session_start`) are the exception: they answer nothing by design. Both channels on the
Rasa server (intranet webhook, loopback REST, which `rasa shell` also uses) wrap Rasa's
`on_new_message` with `answer_or_apologise`; the Telegram bridge goes through the intranet one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from llm_fallback.text.lang import detect_lang
from llm_fallback.text.replies import say

if TYPE_CHECKING:  # the texts are also read where Rasa is not installed (the bridge, tests)
    from rasa.core.channels.channel import UserMessage

logger = logging.getLogger(__name__)

def unavailable_text(user_text: str | None) -> str:
    return say("unavailable", detect_lang(user_text or ""))


async def answer_or_apologise(
    on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage,
    sent: Callable[[], int],
) -> None:
    """Runs `message` through Rasa; `sent()` counts what its output channel has sent so far."""
    try:
        await on_new_message(message)
    except asyncio.CancelledError:
        logger.error("message timed out channel=%s", message.input_channel)
    except Exception:
        logger.exception("message failed channel=%s", message.input_channel)
    if sent() == 0 and not (message.text or "").startswith("/"):
        logger.warning("no reply for a message channel=%s: sending 'temporarily unavailable'",
                       message.input_channel)
        # send_response, not send_text_message: the channel's own formatting applies (recipient id).
        reply = {"text": unavailable_text(message.text)}
        await message.output_channel.send_response(message.sender_id, reply)
