"""A skill's follow-up: "那 13B 呢？" after "7B fp16 推理要多少显存？" re-runs the skill with the one slot
the message changes and asks nothing (the slots named before stay, the rest keep their defaults)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from actions.skills.common import fmt_size
from actions.skills.forms import TABLES
from actions.skills.normalize import find_value, parse_model_size
from llm_fallback.conversation.followup import shape_of
from llm_fallback.text.lang import is_bare_term

# "What if we only have CPUs?", "要是已经过拟合了呢？": a condition put to the previous request.
_CONDITION = re.compile(r"^\s*(?:and\s+)?(?:what\s+)?if\b|^\s*那?(?:如果|要是|假如|换成|改成)", re.IGNORECASE)


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
    if shape_of(message)[0] == "none" and not is_bare_term(message) and not _CONDITION.match(message):
        return None
    changed = found_slots(slots, message)
    if not changed:
        return None
    return {**{slot: named_before.get(slot) for slot in slots}, **changed}
