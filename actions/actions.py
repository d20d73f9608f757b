"""Thin rasa-sdk actions: read the tracker, call llm_fallback, dispatch the reply.

Retrieval, prompts and answer checks live in llm_fallback; nothing here knows how they work.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker, ValidationAction
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.notes import answer_from_notes
from actions.skills.common import SKILL_SLOTS
from actions.skills.forms import user_lang
from actions.skills.skill_actions import follow_up_skill
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

    def validate_lang(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # extract_lang only ever sets "zh" or "en"; without a validator rasa_sdk logs a warning on
        # every user message.
        return {"lang": value}


class ActionAnswerFromNotes(Action):
    def name(self) -> str:
        return "action_answer_from_notes"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        # "那 13B 呢？" after a skill's answer: the same skill with the one slot changed.
        if not await follow_up_skill(dispatcher, tracker):
            await answer_from_notes(dispatcher, tracker)
        # A form left for this question must not hand its half-collected slots to the next request.
        return [SlotSet(slot, None) for slot in SKILL_SLOTS if tracker.get_slot(slot) is not None]


class ActionNewTopic(Action):
    """"换个话题" / "new topic": the next message starts fresh (actions.conversation stops at this turn)."""

    def name(self) -> str:
        return "action_new_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=say("new_topic", user_lang(tracker)))
        return [SlotSet(slot, None) for slot in SKILL_SLOTS if tracker.get_slot(slot) is not None]
