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


ASK_ACTIONS: list[type[AskAction]] = [
    ActionAskVramFormModelSize,
    ActionAskQuantFormModelSize,
]
