"""What the conversation so far leaves for the next turn, read from the tracker's events.

Each answering bot turn records its context in its event's metadata (a notes answer: the question
it answered, that question's subjects and the sections cited; a skill: which skill and the slots the
user named). A follow-up leans on the most recent such turn, unless the conversation started over
in between: `/restart`, a new session, the user's "new topic" (alone, or opening the message being
answered), `CONTEXT_TTL_S` of silence, or more than `WINDOW_TURNS` user messages since.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from llm_fallback.text.questions import after_new_topic

WINDOW_TURNS = 3
_FRESH_START_EVENTS = frozenset({"restart", "session_started"})
NEW_TOPIC_INTENT = "new_topic"


def last_context(events: Iterable[Mapping[str, Any]], ttl_s: float,
                 now: float | None = None) -> dict[str, Any] | None:
    """The metadata of the last bot turn that recorded context, or None when the next message
    starts fresh. `events` are the tracker's, oldest first, ending with the message being answered."""
    now = time.time() if now is None else now
    user_turns = 0
    for event in reversed(list(events)):
        kind = event.get("event")
        if kind in _FRESH_START_EVENTS:
            return None
        if kind == "user":
            user_turns += 1
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            # The message being answered is the first user event seen; an earlier "new topic" ends the scan.
            if (user_turns > 1 and intent == NEW_TOPIC_INTENT) or user_turns > WINDOW_TURNS:
                return None
            if user_turns == 1 and after_new_topic(event.get("text") or "") is not None:
                return None
            continue
        if kind != "bot":
            continue
        metadata = event.get("metadata") or {}
        if "question" in metadata or "skill" in metadata:
            if now - float(event.get("timestamp") or 0) > ttl_s:
                return None
            return dict(metadata)
    return None
