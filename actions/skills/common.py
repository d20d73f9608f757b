"""What every skill answer shares: the language, the note it comes from, number formatting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Lang = Literal["zh", "en"]

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


@dataclass(frozen=True)
class Source:
    """A note file and the heading path of the section a rule comes from (as the notes spell it)."""

    file: str
    heading: tuple[str, ...]

    def label(self) -> str:
        return " › ".join((self.file, *self.heading))


def sources_line(sources: tuple[Source, ...] | list[Source], lang: Lang) -> str:
    """The closing line of every skill answer: where the rule is written down."""
    labels = "; ".join(dict.fromkeys(s.label() for s in sources))
    return f"来源：{labels}" if lang == "zh" else f"Source: {labels}"


def fmt_number(value: float) -> str:
    """2.0 -> "2", 18.4 -> "18.4", 1.15 -> "1.15": no trailing zeros, at most two decimals."""
    text = f"{value:.2f}" if value < 10 else f"{value:.1f}"
    return text.rstrip("0").rstrip(".")


def fmt_size(billions: float) -> str:
    """Model size in the notes' style: 7 -> "7B", 1.5 -> "1.5B", 0.5 -> "0.5B"."""
    return f"{fmt_number(billions)}B"


def pick(lang: Lang, zh: str, en: str) -> str:
    return zh if lang == "zh" else en
