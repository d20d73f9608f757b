"""Thin rasa-sdk actions for the task skills: read slots, call a pure function, dispatch the text."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import last_context
from actions.notes import answer_from_notes
from actions.skills import defaults, engines, lora, normalize, params, quant, vram
from actions.skills.carry_over import carried_slots
from actions.skills.common import SKILL_SLOTS, fmt_size
from actions.skills.forms import user_lang
from llm_fallback.answer.figures import Reported, reported_figure
from llm_fallback.config import load_settings
from llm_fallback.conversation.followup import topics_of
from llm_fallback.knowledge.retrieve import get_retriever
from llm_fallback.text.questions import asks_value_used
from llm_fallback.text.replies import say

logger = logging.getLogger(__name__)


def reset_slots() -> list[dict[str, Any]]:
    return [SlotSet(slot, None) for slot in SKILL_SLOTS]


@dataclass(frozen=True)
class Request:
    """What a skill answers: the slots the user named (None: take the default), and the message."""

    slots: Mapping[str, Any]
    text: str
    entities: tuple[Mapping[str, Any], ...] = field(default=())

    @classmethod
    def from_tracker(cls, tracker: Tracker) -> Request:
        message = tracker.latest_message
        return cls({slot: tracker.get_slot(slot) for slot in SKILL_SLOTS},
                   message.get("text") or "", tuple(message.get("entities", [])))


def size_slot(request: Request) -> float | None:
    return normalize.parse_model_size(request.slots.get("model_size") or "", bare_number_ok=True).billions


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
    """Dispatches `answer(request, lang)` and clears the skill slots; logs, never the message text.

    A skill never leaves the user without an answer: when it cannot compute one (no parameter
    named, a slot the form should have validated), the notes answer the message instead."""

    slots: ClassVar[tuple[str, ...]]  # the slots this skill reads: a follow-up may change any of them

    @abstractmethod
    def answer(self, request: Request, lang: str) -> SkillReply | None:
        """The reply, or None when the request does not give the skill what it needs."""

    def respond(self, dispatcher: CollectingDispatcher, request: Request, lang: str) -> bool:
        """Dispatch the answer to `request`; False when there is none (the notes should answer)."""
        try:
            reply = self.answer(request, lang)
        except (KeyError, ValueError) as exc:  # a slot the form should have validated
            logger.warning("%s bad slots: %s", self.name(), exc)
            return False
        if reply is None:
            return False
        text, buttons = reply.text, []
        if reply.assumed is not None:
            text, buttons = f"{reply.text}\n{reply.assumed.note}", reply.assumed.buttons()
        named = {slot: request.slots[slot] for slot in self.slots if request.slots.get(slot) is not None}
        # Metadata lands in the bot event (the tracker), never in what the user sees: the route for
        # the benches, the skill and the slots the user named for a follow-up ("那 13B 呢？").
        dispatcher.utter_message(text=text, buttons=buttons, route="reported" if reply.reported else "skill",
                                 skill=self.name(), slots=named, question=request.text,
                                 topics=list(topics_of(request.text)))
        return True

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        # Off the event loop: a skill may look in the notes (vram's reported figures).
        request = Request.from_tracker(tracker)
        answered = await asyncio.to_thread(self.respond, dispatcher, request, user_lang(tracker))
        if not answered:
            logger.info("%s cannot answer sender=%s: the notes answer", self.name(), tracker.sender_id)
            await answer_from_notes(dispatcher, tracker)
            return reset_slots()
        logger.info("%s answered sender=%s", self.name(), tracker.sender_id)
        return reset_slots()


class ActionEstimateVram(SkillAction):
    slots = ("model_size", "precision", "train_mode")

    def name(self) -> str:
        return "action_estimate_vram"

    def answer(self, request: Request, lang: str) -> SkillReply | None:
        size = size_slot(request)
        if size is None:
            return None
        named_mode, named_precision = request.slots.get("train_mode"), request.slots.get("precision")
        mode = named_mode or defaults.VRAM_MODE
        precision = (named_precision or defaults.VRAM_PRECISION) if mode == "inference" else None
        if mode == "lora" and named_precision == "int4":
            mode = "qlora"
        text = vram.render(vram.estimate(size, mode, precision), lang)
        reported = reported_vram(request.text, size, mode)
        if reported is not None:
            text = vram.with_reported(text, reported.sentence, reported.hit.sources_label(), lang)
        precision_named = named_precision is not None or mode != "inference"
        assumed = defaults.vram(fmt_size(size), named_mode is not None, precision_named, lang)
        return SkillReply(text, assumed, reported is not None)


class ActionQuantizationAdvice(SkillAction):
    slots = ("model_size", "loss_tolerance")

    def name(self) -> str:
        return "action_quantization_advice"

    def answer(self, request: Request, lang: str) -> SkillReply | None:
        size, tolerance = size_slot(request), request.slots.get("loss_tolerance")
        if size is None:
            return None
        text = quant.render(quant.advise(size, tolerance or defaults.QUANT_TOLERANCE), lang)
        return SkillReply(text, defaults.quant(fmt_size(size), tolerance is not None, lang))


class ActionExplainParameter(SkillAction):
    """Also answers a parameter question in the middle of another form (from the message itself)."""

    slots = ("parameter",)

    def name(self) -> str:
        return "action_explain_parameter"

    def answer(self, request: Request, lang: str) -> SkillReply | None:
        name = request.slots.get("parameter")
        if name is None:
            found = (
                normalize.canonical(e.get("value"), normalize.PARAMETER)
                for e in request.entities
                if e.get("entity") in ("parameter", "precision")
            )
            name = next((v for v in found if v), None)
        name = name or normalize.find_value(request.text, normalize.PARAMETER)
        return None if name is None else SkillReply(params.explain(name, lang))

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        in_a_form = tracker.active_loop.get("name") is not None
        value_used = asks_value_used(tracker.latest_message.get("text") or "")
        if value_used and not in_a_form and after_notes_answer(tracker):
            # "学习率设的是多少？" after an answer about an example: that example's value, which the
            # parameter's explanation does not give.
            logger.info("%s: a value used in the notes just cited sender=%s", self.name(), tracker.sender_id)
            await answer_from_notes(dispatcher, tracker)
            return reset_slots()
        events = await super().run(dispatcher, tracker, domain)
        if tracker.active_loop.get("name") not in (None, "param_form"):
            # A digression inside another form: keep that form's slots.
            return [SlotSet("parameter", None)]
        return events


class ActionLoraConfig(SkillAction):
    slots = ("data_trait",)

    def name(self) -> str:
        return "action_lora_config"

    def answer(self, request: Request, lang: str) -> SkillReply | None:
        trait = request.slots.get("data_trait")
        text = lora.render(lora.recommend(trait or defaults.LORA_TRAIT), lang)
        return SkillReply(text, defaults.lora(trait is not None, lang))


class ActionInferenceEngine(SkillAction):
    slots = ("hardware", "goal")

    def name(self) -> str:
        return "action_inference_engine"

    def answer(self, request: Request, lang: str) -> SkillReply | None:
        named_hardware, named_goal = request.slots.get("hardware"), request.slots.get("goal")
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


SKILLS: dict[str, SkillAction] = {
    action.name(): action
    for action in (ActionEstimateVram(), ActionQuantizationAdvice(), ActionExplainParameter(),
                   ActionLoraConfig(), ActionInferenceEngine())
}


def after_notes_answer(tracker: Tracker) -> bool:
    """Whether the message follows a notes answer (not a skill's) it may lean on."""
    context = last_context(tracker.events, load_settings().context_ttl_s) or {}
    return "question" in context and "skill" not in context


async def follow_up_skill(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Answer "那 13B 呢？" / "QLoRA 呢？" right after a skill's answer: the same skill, with the slots
    the user named then and the one this message changes. False when the message is not such a
    follow-up (the notes answer it)."""
    context = last_context(tracker.events, load_settings().context_ttl_s)
    skill = SKILLS.get((context or {}).get("skill", ""))
    message = tracker.latest_message.get("text") or ""
    if skill is None:
        return False
    slots = carried_slots(skill.slots, context.get("slots") or {}, message)
    if slots is None:
        return False
    request = Request(slots, message)
    answered = await asyncio.to_thread(skill.respond, dispatcher, request, user_lang(tracker))
    logger.info("%s follow-up sender=%s answered=%s", skill.name(), tracker.sender_id, answered)
    return answered
