"""A skill's follow-up: "那 13B 呢？" after "7B fp16 推理要多少显存？" re-runs the skill with the one slot
the message changes and asks nothing (the slots named before stay, the rest keep their defaults)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from actions.skills.common import fmt_size
from actions.skills.forms import TABLES
from actions.skills.normalize import find_value, parse_model_size, without_values
from llm_fallback.conversation.followup import shape_of
from llm_fallback.text.lang import is_bare_term

# "What if we only have CPUs?", "要是已经过拟合了呢？": a condition put to the previous request.
_CONDITION = re.compile(r"^\s*(?:and\s+)?(?:what\s+)?if\b|^\s*那?(?:如果|要是|假如|换成|改成)", re.IGNORECASE)
# What "那 13B 的模型呢？" may say besides the new value; "那 QLoRA 的原理呢？" asks something else.
_FILLER = re.compile(
    r"模型|版本|的话|的|用|呢|那么?|\b(?:a|an|the|model|models|version|then|instead|with|for|one)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z]+|[\u3400-\u9fff]")


def _asks_only_for_values(term: str) -> bool:
    return len(_WORD.findall(_FILLER.sub(" ", without_values(term, TABLES.values())))) <= 1


def found_slots(slots: tuple[str, ...], message: str) -> dict[str, str]:
    """The values `message` gives for any of `slots`, canonical as the forms store them."""
    found = {}
    for slot in slots:
        if slot == "model_size":
            billions = parse_model_size(message).billions
            value = fmt_size(billions) if billions is not None else None
        else:
            value = find_value(message, TABLES[slot])
        if value is not None:
            found[slot] = value
    return found


def carried_slots(slots: tuple[str, ...], named_before: Mapping[str, Any],
                  message: str) -> dict[str, Any] | None:
    """The slots of the skill's previous request with what a follow-up changes; None when the
    message is not a follow-up ("那 … 呢", "and …?", "what if …", a bare value) or changes none of them."""
    shape, term = shape_of(message)
    if not _CONDITION.match(message):
        if shape == "none" and not is_bare_term(message):
            return None
        if shape == "substitution" and term and not _asks_only_for_values(term):
            return None
    changed = found_slots(slots, message)
    if not changed:
        return None
    return {**{slot: named_before.get(slot) for slot in slots}, **changed}
