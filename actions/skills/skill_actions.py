"""Thin rasa-sdk actions for the task skills: read slots, call a pure function, dispatch the text."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.actions import answer_from_notes
from actions.skills import defaults, engines, lora, normalize, params, quant, vram
from actions.skills.common import SKILL_SLOTS, fmt_size
from actions.skills.forms import user_lang
from llm_fallback.answer.figures import Reported, reported_figure
from llm_fallback.knowledge.retrieve import get_retriever
from llm_fallback.text.replies import say

logger = logging.getLogger(__name__)


def reset_slots() -> list[dict[str, Any]]:
    return [SlotSet(slot, None) for slot in SKILL_SLOTS]


def size_slot(tracker: Tracker) -> float | None:
    return normalize.parse_model_size(tracker.get_slot("model_size") or "", bare_number_ok=True).billions


@dataclass(frozen=True)
class SkillReply:
    text: str
    assumed: defaults.Assumed | None = None  # the defaults the answer took, and buttons to change them
    reported: bool = False  # it leads with a figure the notes report (bench.e2e counts it as both)


def reported_vram(question: str, billions: float, mode: str) -> Reported | None:
    """What the notes measured for this size and use, if they did; a broken index costs only this."""
    try:
        return reported_figure(question, billions, vram.USE_WORDS[mode], get_retriever())
    except Exception:
        logger.exception("looking up a reported memory figure failed; the rule of thumb answers alone")
        return None


class SkillAction(Action, ABC):
    """Dispatches `answer(tracker, lang)` and clears the skill slots; logs, never the message text.

    A skill never leaves the user without an answer: when it cannot compute one (no parameter
    named, a slot the form should have validated), the notes answer the message instead."""

    @abstractmethod
    def answer(self, tracker: Tracker, lang: str) -> SkillReply | None:
        """The reply, or None when the message does not give the skill what it needs."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        lang = user_lang(tracker)
        try:
            # Off the event loop: a skill may look in the notes (vram's reported figures).
            reply = await asyncio.to_thread(self.answer, tracker, lang)
        except (KeyError, ValueError) as exc:  # a slot the form should have validated
            logger.warning("%s bad slots sender=%s: %s", self.name(), tracker.sender_id, exc)
            reply = None
        if reply is None:
            logger.info("%s cannot answer sender=%s: the notes answer", self.name(), tracker.sender_id)
            await answer_from_notes(dispatcher, tracker)
            return reset_slots()
        text, buttons = reply.text, []
        if reply.assumed is not None:
            text, buttons = f"{reply.text}\n{reply.assumed.note}", reply.assumed.buttons()
        # `route` lands in the bot event's metadata (the tracker), never in what the user sees.
        dispatcher.utter_message(text=text, buttons=buttons, route="reported" if reply.reported else "skill")
        logger.info("%s answered sender=%s", self.name(), tracker.sender_id)
        return reset_slots()


class ActionEstimateVram(SkillAction):
    def name(self) -> str:
        return "action_estimate_vram"

    def answer(self, tracker: Tracker, lang: str) -> SkillReply | None:
        size = size_slot(tracker)
        if size is None:
            return None
        named_mode, named_precision = tracker.get_slot("train_mode"), tracker.get_slot("precision")
        mode = named_mode or defaults.VRAM_MODE
        precision = (named_precision or defaults.VRAM_PRECISION) if mode == "inference" else None
        if mode == "lora" and named_precision == "int4":
            mode = "qlora"
        text = vram.render(vram.estimate(size, mode, precision), lang)
        reported = reported_vram(tracker.latest_message.get("text") or "", size, mode)
        if reported is not None:
            text = vram.with_reported(text, reported.sentence, reported.hit.sources_label(), lang)
        precision_named = named_precision is not None or mode != "inference"
        assumed = defaults.vram(fmt_size(size), named_mode is not None, precision_named, lang)
        return SkillReply(text, assumed, reported is not None)


class ActionQuantizationAdvice(SkillAction):
    def name(self) -> str:
        return "action_quantization_advice"

    def answer(self, tracker: Tracker, lang: str) -> SkillReply | None:
        size, tolerance = size_slot(tracker), tracker.get_slot("loss_tolerance")
        if size is None:
            return None
        text = quant.render(quant.advise(size, tolerance or defaults.QUANT_TOLERANCE), lang)
        return SkillReply(text, defaults.quant(fmt_size(size), tolerance is not None, lang))


class ActionExplainParameter(SkillAction):
    """Also answers a parameter question in the middle of another form (from the message itself)."""

    def name(self) -> str:
        return "action_explain_parameter"

    def answer(self, tracker: Tracker, lang: str) -> SkillReply | None:
        name = tracker.get_slot("parameter")
        if name is None:
            found = (
                normalize.canonical(e.get("value"), normalize.PARAMETER)
                for e in tracker.latest_message.get("entities", [])
                if e.get("entity") in ("parameter", "precision")
            )
            name = next((v for v in found if v), None)
        name = name or normalize.find_value(tracker.latest_message.get("text") or "", normalize.PARAMETER)
        return None if name is None else SkillReply(params.explain(name, lang))

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

    def answer(self, tracker: Tracker, lang: str) -> SkillReply | None:
        trait = tracker.get_slot("data_trait")
        text = lora.render(lora.recommend(trait or defaults.LORA_TRAIT), lang)
        return SkillReply(text, defaults.lora(trait is not None, lang))


class ActionInferenceEngine(SkillAction):
    def name(self) -> str:
        return "action_inference_engine"

    def answer(self, tracker: Tracker, lang: str) -> SkillReply | None:
        named_hardware, named_goal = tracker.get_slot("hardware"), tracker.get_slot("goal")
        hardware = named_hardware or defaults.ENGINE_HARDWARE
        text = engines.render(hardware, named_goal or defaults.engine_goal(hardware), lang)
        return SkillReply(text, defaults.engine(named_hardware is not None, named_goal is not None, lang))


class ActionCancelSkill(Action):
    """After the form was deactivated: say so politely and forget what was collected."""

    def name(self) -> str:
        return "action_cancel_skill"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=say("skill_cancelled", user_lang(tracker)))
        return reset_slots()
