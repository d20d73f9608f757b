# ruff: noqa: E501  (answer texts: Chinese prose counts double width; splitting it mid-phrase hurts reading)
"""Slot extraction and validation for the skill forms (thin: the rules live in `normalize`).

Every slot is read from the request when the user names it, but a form asks only for what no
default stands in for (`AnswerFirstForm.ASKS`: a model's size). While it waits, the user's message
is read as the answer unless NLU says it is something else (a question, "cancel") or it asks a
question and carries no value (whatever intent NLU gave it): then nothing is extracted, the form
rejects, and the rules answer the message and let the form go, or cancel it.
A bad answer ("-3B", "7X", empty) gets a clear error and the same question again.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.conversation import last_context
from actions.skills import normalize
from actions.skills.common import Lang, fmt_size
from llm_fallback.config import load_settings
from llm_fallback.text.lang import detect_lang
from llm_fallback.text.questions import asks_something

logger = logging.getLogger(__name__)

# Intents that are not an answer to the form's question: the form lets the rules handle them.
# out_of_scope is missing on purpose: "a trillion" or "purple" as an answer gets a clear error.
NOT_AN_ANSWER = {
    "cancel",
    "new_topic",
    "ask_notes",
    "explain_parameter",
    "help",
    "bot_challenge",
    "greet",
    "goodbye",
    "thank",
    "estimate_vram",
    "quantization_advice",
    "lora_config",
    "inference_engine",
}

ERRORS: dict[str, dict[str, str]] = {
    "model_size.missing": {
        "zh": "没看懂模型大小。请给出参数量，例如 7B、1.5B、70亿 或 13 billion。",
        "en": "I couldn't read a model size. Please give the parameter count, e.g. 7B, 1.5B, 70亿 or 13 billion.",
    },
    "model_size.negative": {
        "zh": "模型大小不能是负数。请给出参数量，例如 7B。",
        "en": "A model size can't be negative. Please give the parameter count, e.g. 7B.",
    },
    "model_size.unit": {
        "zh": "没看懂这个单位。请用 B（十亿参数）或「亿」，例如 7B、0.5B、70亿。",
        "en": "I don't know that unit. Please use B (billions of parameters), e.g. 7B, 0.5B or 70 billion.",
    },
    "model_size.range": {
        "zh": f"模型大小要在 0 到 {normalize.MAX_BILLIONS:g}B 之间，例如 7B、70B。",
        "en": f"The model size must be between 0 and {normalize.MAX_BILLIONS:g}B, e.g. 7B or 70B.",
    },
    "precision": {
        "zh": "精度请选 fp32、fp16、bf16、int8 或 int4。",
        "en": "Please pick a precision: fp32, fp16, bf16, int8 or int4.",
    },
    "train_mode": {
        "zh": "请选用途：推理、LoRA 微调、QLoRA 微调 或 全量微调。",
        "en": "Please pick what it is for: inference, LoRA, QLoRA or full fine-tuning.",
    },
    "loss_tolerance": {
        "zh": "请选：不接受任何损失，或 可以接受 2–3% 的损失。",
        "en": "Please choose: no loss at all, or a 2–3% loss is acceptable.",
    },
    "parameter": {
        "zh": "这个参数我不认识。可以问 temperature、top_p、top_k、repetition_penalty、max_new_tokens、num_beams、"
        "learning_rate、warmup_ratio、weight_decay、batch size、bf16/fp16 等。",
        "en": "I don't know that parameter. Try temperature, top_p, top_k, repetition_penalty, max_new_tokens, "
        "num_beams, learning_rate, warmup_ratio, weight_decay, batch size, bf16/fp16 ...",
    },
    "data_trait": {
        "zh": "请选：常规数据、数据类型多样，或 已经过拟合。",
        "en": "Please choose: ordinary data, diverse data, or the model overfits.",
    },
    "hardware": {
        "zh": "请选硬件：只有 CPU、单张 GPU，或 多张 GPU。",
        "en": "Please pick the hardware: CPU only, one GPU, or several GPUs.",
    },
    "goal": {
        "zh": "请选目标：追求吞吐/性能，或 追求简单易用。",
        "en": "Please pick the goal: throughput, or simplicity.",
    },
}

TABLES = {
    "precision": normalize.PRECISION,
    "train_mode": normalize.TRAIN_MODE,
    "loss_tolerance": normalize.LOSS_TOLERANCE,
    "parameter": normalize.PARAMETER,
    "data_trait": normalize.DATA_TRAIT,
    "hardware": normalize.HARDWARE,
    "goal": normalize.GOAL,
}


def user_lang(tracker: Tracker) -> Lang:
    lang = tracker.get_slot("lang")
    if lang in ("zh", "en"):
        return lang
    return detect_lang(tracker.latest_message.get("text") or "")


def _text(tracker: Tracker) -> str:
    return (tracker.latest_message.get("text") or "").strip()


def _intent(tracker: Tracker) -> str:
    return (tracker.latest_message.get("intent") or {}).get("name") or ""


def _reading(tracker: Tracker, slot: str, trigger: str) -> str | None:
    """How to read the message for `slot`: "answer" to the form's question, "upfront" (the request
    itself may carry the value), or None (a button, a digression, a cancel: not ours to read)."""
    text, intent = _text(tracker), _intent(tracker)
    if text.startswith("/"):
        return None  # a button: its entity already filled the slot
    if tracker.get_slot("requested_slot") == slot and (not text or intent not in NOT_AN_ANSWER):
        return "answer"
    if intent == trigger and tracker.get_slot(slot) is None:
        return "upfront"
    return None


def extract_size(
    dispatcher: CollectingDispatcher, tracker: Tracker, trigger: str, slot: str = "model_size"
) -> dict[str, Any]:
    reading = _reading(tracker, slot, trigger)
    if reading is None:
        return {}
    parsed = normalize.parse_model_size(_text(tracker), bare_number_ok=reading == "answer")
    if parsed.billions is not None:
        return {slot: fmt_size(parsed.billions)}
    if reading == "answer" and parsed.problem == "missing" and asks_something(_text(tracker)):
        return {}  # "top_p 是什么意思" while the form waits: a question, not the size it asked for
    if reading == "upfront" and parsed.problem in ("missing", "unit"):
        # The request names no size: the size of a skill request just answered ("70B 不掉点用几 bit？"
        # then "那能接受 2-3% 的损失呢？"), else the form will ask.
        earlier = (last_context(tracker.events, load_settings().context_ttl_s) or {}).get("slots") or {}
        return {slot: earlier["model_size"]} if earlier.get("model_size") else {}
    logger.info("skill form bad value slot=%s problem=%s", slot, parsed.problem)
    dispatcher.utter_message(text=ERRORS[f"model_size.{parsed.problem}"][user_lang(tracker)])
    return {slot: None}


def extract_choice(
    dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, trigger: str
) -> dict[str, Any]:
    """A fixed-choice slot from the message's wording (covers what NLU's entities missed)."""
    reading = _reading(tracker, slot, trigger)
    if reading is None:
        return {}
    value = normalize.find_value(_text(tracker), TABLES[slot])
    if value:
        return {slot: value}
    if reading == "answer" and not asks_something(_text(tracker)):
        logger.info("skill form bad value slot=%s", slot)
        dispatcher.utter_message(text=ERRORS[slot][user_lang(tracker)])
        return {slot: None}
    return {}


def validate_size(value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
    if value is None:
        return {"model_size": None}  # already rejected (and explained) by the extraction
    parsed = normalize.parse_model_size(str(value or ""), bare_number_ok=True)
    if parsed.billions is None:
        dispatcher.utter_message(text=ERRORS[f"model_size.{parsed.problem}"][user_lang(tracker)])
        return {"model_size": None}
    return {"model_size": fmt_size(parsed.billions)}


def validate_choice(
    slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    if value is None:
        return {slot: None}  # already rejected (and explained) by the extraction
    # NLU sometimes tags only part of a phrase ("任何" of "不想有任何损失"): then read the whole message.
    found = normalize.canonical(value, TABLES[slot]) or normalize.find_value(_text(tracker), TABLES[slot])
    if found is None and tracker.get_slot("requested_slot") == slot:
        # Only an answer to the form's own question gets the error; a word in the request that
        # reads as nothing known leaves the slot to its stated default.
        dispatcher.utter_message(text=ERRORS[slot][user_lang(tracker)])
    return {slot: found}


class AnswerFirstForm(FormValidationAction, ABC):
    """A form that asks only for `ASKS`, the slots no default can stand in for.

    Every slot of the form is still read from the request when the user names it; the skill takes
    the default for the rest and says so in its answer (actions/skills/defaults.py). A form whose
    `ASKS` are filled, or empty, ends at once: the request is answered in the same turn."""

    ASKS: tuple[str, ...] = ()

    @abstractmethod
    def name(self) -> str:
        """validate_<form name>: abstract, so rasa-sdk registers only the concrete forms."""

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return SlotSet(REQUESTED_SLOT, next((s for s in self.ASKS if tracker.slots.get(s) is None), None))


class ValidateVramForm(AnswerFirstForm):
    ASKS = ("model_size",)

    def name(self) -> str:
        return "validate_vram_form"

    async def extract_model_size(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return extract_size(dispatcher, tracker, "estimate_vram")

    async def extract_train_mode(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return extract_choice(dispatcher, tracker, "train_mode", "estimate_vram")

    async def extract_precision(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        return extract_choice(dispatcher, tracker, "precision", "estimate_vram")

    def validate_model_size(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return validate_size(value, dispatcher, tracker)

    def validate_train_mode(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return validate_choice("train_mode", value, dispatcher, tracker)

    def validate_precision(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return validate_choice("precision", value, dispatcher, tracker)


class ValidateQuantForm(AnswerFirstForm):
    ASKS = ("model_size",)

    def name(self) -> str:
        return "validate_quant_form"

    async def extract_model_size(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return extract_size(dispatcher, tracker, "quantization_advice")

    async def extract_loss_tolerance(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return extract_choice(dispatcher, tracker, "loss_tolerance", "quantization_advice")

    def validate_model_size(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return validate_size(value, dispatcher, tracker)

    def validate_loss_tolerance(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return validate_choice("loss_tolerance", value, dispatcher, tracker)


class ValidateParamForm(AnswerFirstForm):
    def name(self) -> str:
        return "validate_param_form"

    async def extract_parameter(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        return extract_choice(dispatcher, tracker, "parameter", "explain_parameter")

    def validate_parameter(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return validate_choice("parameter", value, dispatcher, tracker)


class ValidateLoraForm(AnswerFirstForm):
    def name(self) -> str:
        return "validate_lora_form"

    async def extract_data_trait(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return extract_choice(dispatcher, tracker, "data_trait", "lora_config")

    def validate_data_trait(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return validate_choice("data_trait", value, dispatcher, tracker)


class ValidateEngineForm(AnswerFirstForm):
    def name(self) -> str:
        return "validate_engine_form"

    async def extract_hardware(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        return extract_choice(dispatcher, tracker, "hardware", "inference_engine")

    async def extract_goal(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        return extract_choice(dispatcher, tracker, "goal", "inference_engine")

    def validate_hardware(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return validate_choice("hardware", value, dispatcher, tracker)

    def validate_goal(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return validate_choice("goal", value, dispatcher, tracker)
