"""Thin rasa-sdk actions: read the tracker, call llm_fallback, dispatch the reply.

Retrieval, prompts and answer checks live in llm_fallback; nothing here knows how they work.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker, ValidationAction
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.skills.common import SKILL_SLOTS
from llm_fallback.answer.pipeline import busy_reply
from llm_fallback.knowledge.store import IndexNotBuiltError
from llm_fallback.llm.errors import LLMBusy
from llm_fallback.routing import faq_or_notes
from llm_fallback.text.lang import detect_lang, is_bare_term
from llm_fallback.text.replies import say

logger = logging.getLogger(__name__)

class ValidateSlotMappings(ValidationAction):
    """Runs after every user message: keeps `lang` in step with the user's language."""

    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def extract_lang(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = tracker.latest_message.get("text") or ""
        if not text or text.startswith("/"):
            return {}
        if is_bare_term(text) and tracker.get_slot("lang"):
            return {}  # "QLoRA" as an answer to a Chinese question is still a Chinese conversation
        return {"lang": detect_lang(text)}


async def answer_from_notes(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Answer the latest message from the notes (FAQ first); every failure gets a reply and a log line."""
    question = tracker.latest_message.get("text") or ""
    try:
        # Retrieval and generation block; a worker thread keeps the action server responsive.
        answer = await asyncio.to_thread(faq_or_notes, question)
    except LLMBusy:
        logger.warning("answer_from_notes busy sender=%s", tracker.sender_id)
        dispatcher.utter_message(text=busy_reply(question))
        return
    except IndexNotBuiltError as exc:
        logger.error("answer_from_notes no index sender=%s: %s", tracker.sender_id, exc)
        dispatcher.utter_message(text=say("knowledge_unavailable", detect_lang(question)))
        return
    except Exception:
        logger.exception("answer_from_notes failed sender=%s", tracker.sender_id)
        dispatcher.utter_message(text=say("knowledge_unavailable", detect_lang(question)))
        return
    # `route` lands in the bot event's metadata (the tracker), never in what the user sees.
    dispatcher.utter_message(text=answer.text, route=answer.route)


class ActionAnswerFromNotes(Action):
    def name(self) -> str:
        return "action_answer_from_notes"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        await answer_from_notes(dispatcher, tracker)
        # A form left for this question must not hand its half-collected slots to the next request.
        return [SlotSet(slot, None) for slot in SKILL_SLOTS if tracker.get_slot(slot) is not None]
