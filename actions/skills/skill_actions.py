"""Thin rasa-sdk actions for the task skills: read slots, call a pure function, dispatch the text."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.skills import engines, lora, normalize, params, quant, vram
from actions.skills.forms import user_lang

logger = logging.getLogger(__name__)

# Every skill's slots start empty for the next request, so an old answer never leaks into a new one.
SKILL_SLOTS = (
    "model_size",
    "precision",
    "train_mode",
    "loss_tolerance",
    "parameter",
    "data_trait",
    "hardware",
    "goal",
)

CANCELLED = {
    "zh": "好的，已取消。需要时再问我，比如「7B 模型 fp16 推理要多少显存」。",
    "en": 'Okay, cancelled. Ask me again whenever you like, e.g. "VRAM for a 7B model in fp16".',
}
MISSING = {
    "zh": "信息不全，没法计算，请重新问一次。",
    "en": "Some details are missing, so I can't work it out; please ask again.",
}


def reset_slots() -> list[dict[str, Any]]:
    return [SlotSet(slot, None) for slot in SKILL_SLOTS]


def size_slot(tracker: Tracker) -> float | None:
    return normalize.parse_model_size(tracker.get_slot("model_size") or "", bare_number_ok=True).billions


class SkillAction(Action, ABC):
    """Dispatches `answer(tracker, lang)` and clears the skill slots; logs, never the message text."""

    @abstractmethod
    def answer(self, tracker: Tracker, lang: str) -> str | None:
        """The reply text, or None when the slots are incomplete."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        lang = user_lang(tracker)
        try:
            text = self.answer(tracker, lang)
        except (KeyError, ValueError) as exc:  # a slot the form should have validated
            logger.warning("%s bad slots sender=%s: %s", self.name(), tracker.sender_id, exc)
            text = None
        dispatcher.utter_message(text=text or MISSING[lang])
        logger.info("%s answered sender=%s", self.name(), tracker.sender_id)
        return reset_slots()


class ActionEstimateVram(SkillAction):
    def name(self) -> str:
        return "action_estimate_vram"

    def answer(self, tracker: Tracker, lang: str) -> str | None:
        size, mode = size_slot(tracker), tracker.get_slot("train_mode")
        if size is None or mode is None:
            return None
        precision = tracker.get_slot("precision") if mode == "inference" else None
        if mode == "lora" and tracker.get_slot("precision") == "int4":
            mode = "qlora"
        return vram.render(vram.estimate(size, mode, precision), lang)


class ActionQuantizationAdvice(SkillAction):
    def name(self) -> str:
        return "action_quantization_advice"

    def answer(self, tracker: Tracker, lang: str) -> str | None:
        size, tolerance = size_slot(tracker), tracker.get_slot("loss_tolerance")
        if size is None or tolerance is None:
            return None
        return quant.render(quant.advise(size, tolerance), lang)


class ActionExplainParameter(SkillAction):
    """Also answers a parameter question in the middle of another form (from the message itself)."""

    def name(self) -> str:
        return "action_explain_parameter"

    def answer(self, tracker: Tracker, lang: str) -> str | None:
        name = tracker.get_slot("parameter")
        if name is None:
            found = (
                normalize.canonical(e.get("value"), normalize.PARAMETER)
                for e in tracker.latest_message.get("entities", [])
                if e.get("entity") in ("parameter", "precision")
            )
            name = next((v for v in found if v), None)
        name = name or normalize.find_value(tracker.latest_message.get("text") or "", normalize.PARAMETER)
        if name is None:
            return None
        return params.explain(name, lang)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events = await super().run(dispatcher, tracker, domain)
        if tracker.active_loop.get("name") not in (None, "param_form"):
            # A digression inside another form: keep that form's slots.
            return [SlotSet("parameter", None)]
        return events


class ActionLoraConfig(SkillAction):
    def name(self) -> str:
        return "action_lora_config"

    def answer(self, tracker: Tracker, lang: str) -> str | None:
        trait = tracker.get_slot("data_trait")
        return None if trait is None else lora.render(lora.recommend(trait), lang)


class ActionInferenceEngine(SkillAction):
    def name(self) -> str:
        return "action_inference_engine"

    def answer(self, tracker: Tracker, lang: str) -> str | None:
        hardware, goal = tracker.get_slot("hardware"), tracker.get_slot("goal")
        if hardware is None or goal is None:
            return None
        return engines.render(hardware, goal, lang)


class ActionCancelSkill(Action):
    """After the form was deactivated: say so politely and forget what was collected."""

    def name(self) -> str:
        return "action_cancel_skill"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=CANCELLED[user_lang(tracker)])
        return reset_slots()
