"""The notes answer as an action step: resolve the message against the conversation, answer it,
dispatch the reply with the context the next turn may lean on."""

from __future__ import annotations

import asyncio
import logging

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import last_context
from llm_fallback.answer.pipeline import busy_reply
from llm_fallback.config import load_settings
from llm_fallback.conversation.followup import Previous
from llm_fallback.conversation.resolve import candidates_questions
from llm_fallback.knowledge.store import IndexNotBuiltError
from llm_fallback.llm.errors import LLMBusy
from llm_fallback.routing import answer_in_context, remember
from llm_fallback.text.lang import detect_lang
from llm_fallback.text.questions import after_new_topic
from llm_fallback.text.replies import say

logger = logging.getLogger(__name__)


def previous_question(tracker: Tracker) -> Previous | None:
    """The turn a follow-up may lean on, or None when this message starts fresh."""
    context = last_context(tracker.events, load_settings().context_ttl_s)
    return Previous.from_metadata(context) if context else None


async def answer_from_notes(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Answer the latest message from the notes (FAQ first), read as a follow-up when it is one;
    every failure gets a reply and a log line."""
    message = tracker.latest_message.get("text") or ""
    # "换个话题。X？": X is the question (last_context already ignores what came before).
    message = after_new_topic(message) or message
    try:
        # Retrieval and generation block; a worker thread keeps the action server responsive.
        answer, resolution = await asyncio.to_thread(answer_in_context, message, previous_question(tracker))
    except LLMBusy:
        logger.warning("answer_from_notes busy sender=%s", tracker.sender_id)
        dispatcher.utter_message(text=busy_reply(message))
        return
    except IndexNotBuiltError as exc:
        logger.error("answer_from_notes no index sender=%s: %s", tracker.sender_id, exc)
        dispatcher.utter_message(text=say("knowledge_unavailable", detect_lang(message)))
        return
    except Exception:
        logger.exception("answer_from_notes failed sender=%s", tracker.sender_id)
        dispatcher.utter_message(text=say("knowledge_unavailable", detect_lang(message)))
        return
    candidates = resolution.candidates
    buttons = [{"title": topic, "payload": question}
               for topic, question in zip(candidates, candidates_questions(message, candidates), strict=True)]
    context = remember(answer.question, answer.sources, candidates)
    logger.info("answer_from_notes sender=%s route=%s resolved=%s",
                tracker.sender_id, answer.route, resolution.how)
    # Metadata lands in the bot event (the tracker), never in what the user sees: the route for the
    # benches, the context for the next turn.
    dispatcher.utter_message(text=answer.text, buttons=buttons, route=answer.route, resolved=resolution.how,
                             rewrite_ms=resolution.rewrite_ms, **context.to_metadata())
