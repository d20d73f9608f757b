"""The forms' questions: one at a time, in the user's language, with buttons for fixed choices.

Custom `action_ask_*` actions rather than domain responses, so each question and its buttons are
written once for both languages (and Rasa 3.6's validator does not flag form questions as unused).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.skills.forms import user_lang


@dataclass(frozen=True)
class Question:
    slot: str
    zh: str
    en: str
    choices: tuple[tuple[str, str, str], ...] = ()  # (value, zh title, en title)

    def buttons(self, lang: str) -> list[dict[str, str]]:
        # The payload sets the entity directly: no NLU guesswork for a click.
        return [
            {"title": zh if lang == "zh" else en, "payload": f'/inform{{"{self.slot}":"{value}"}}'}
            for value, zh, en in self.choices
        ]


def _same(*values: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((v, v, v) for v in values)


QUESTIONS: dict[str, Question] = {
    "action_ask_vram_form_model_size": Question(
        "model_size",
        "模型有多少参数？例如 7B、1.5B 或 70亿。",
        "How many parameters does the model have? E.g. 7B, 1.5B or 70 billion.",
        _same("1.5B", "7B", "13B", "70B"),
    ),
    "action_ask_quant_form_model_size": Question(
        "model_size",
        "模型有多少参数？（笔记的总规律：8bit 量化无损失，参数越大低 bit 量化损失越低。）例如 8B 或 70B。",
        "How many parameters does the model have? (The notes' general rule: 8-bit quantization is lossless, "
        "and larger models lose less at low bit widths.) E.g. 8B or 70B.",
        _same("7B", "8B", "14B", "70B"),
    ),
    "action_ask_train_mode": Question(
        "train_mode",
        "用来做什么：推理，还是微调（LoRA / QLoRA / 全量）？",
        "What is it for: inference, or fine-tuning (LoRA / QLoRA / full)?",
        (
            ("inference", "推理", "Inference"),
            ("lora", "LoRA 微调", "LoRA"),
            ("qlora", "QLoRA 微调", "QLoRA"),
            ("full", "全量微调", "Full fine-tuning"),
        ),
    ),
    "action_ask_precision": Question(
        "precision",
        "推理用什么精度？",
        "Which precision for inference?",
        _same("fp32", "fp16", "bf16", "int8", "int4"),
    ),
    "action_ask_loss_tolerance": Question(
        "loss_tolerance",
        "能接受多少性能损失？",
        "How much quality loss can you accept?",
        (("none", "不接受任何损失", "No loss at all"), ("small", "可以接受 2–3%", "2–3% is fine")),
    ),
    "action_ask_parameter": Question(
        "parameter",
        "想了解哪个参数？",
        "Which parameter would you like explained?",
        _same("temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens", "learning_rate"),
    ),
    "action_ask_data_trait": Question(
        "data_trait",
        "你的情况是哪种？",
        "Which describes your case?",
        (
            ("standard", "常规数据", "Ordinary data"),
            ("diverse", "数据类型多样", "Diverse data"),
            ("overfit", "已经过拟合", "The model overfits"),
        ),
    ),
    "action_ask_hardware": Question(
        "hardware",
        "用什么硬件跑？",
        "What hardware will it run on?",
        (
            ("cpu", "只有 CPU", "CPU only"),
            ("single_gpu", "单张 GPU", "One GPU"),
            ("multi_gpu", "多张 GPU", "Several GPUs"),
        ),
    ),
    "action_ask_goal": Question(
        "goal",
        "更看重什么？",
        "What matters more?",
        (("throughput", "吞吐/性能", "Throughput"), ("simple", "简单易用", "Simplicity")),
    ),
}


class AskAction(Action, ABC):
    """Base of the ask actions; one subclass per question so rasa-sdk registers each name."""

    @abstractmethod
    def name(self) -> str:
        """A key of QUESTIONS."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        question, lang = QUESTIONS[self.name()], user_lang(tracker)
        dispatcher.utter_message(
            text=question.zh if lang == "zh" else question.en, buttons=question.buttons(lang)
        )
        return []


# One module-level class per question: rasa-sdk registers classes, and sanic's worker processes
# pickle them, so they must be importable by name (no classes made at run time).
class ActionAskVramFormModelSize(AskAction):
    def name(self) -> str:
        return "action_ask_vram_form_model_size"


class ActionAskQuantFormModelSize(AskAction):
    def name(self) -> str:
        return "action_ask_quant_form_model_size"


class ActionAskTrainMode(AskAction):
    def name(self) -> str:
        return "action_ask_train_mode"


class ActionAskPrecision(AskAction):
    def name(self) -> str:
        return "action_ask_precision"


class ActionAskLossTolerance(AskAction):
    def name(self) -> str:
        return "action_ask_loss_tolerance"


class ActionAskParameter(AskAction):
    def name(self) -> str:
        return "action_ask_parameter"


class ActionAskDataTrait(AskAction):
    def name(self) -> str:
        return "action_ask_data_trait"


class ActionAskHardware(AskAction):
    def name(self) -> str:
        return "action_ask_hardware"


class ActionAskGoal(AskAction):
    def name(self) -> str:
        return "action_ask_goal"


ASK_ACTIONS: list[type[AskAction]] = [
    ActionAskVramFormModelSize,
    ActionAskQuantFormModelSize,
    ActionAskTrainMode,
    ActionAskPrecision,
    ActionAskLossTolerance,
    ActionAskParameter,
    ActionAskDataTrait,
    ActionAskHardware,
    ActionAskGoal,
]
