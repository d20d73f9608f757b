"""A SQL tracker store configured by one URL, that keeps no secrets and no old conversations.

Rasa's own SQLTrackerStore takes dialect/host/port/db pieces, and endpoints.yml cannot give an
environment variable a default. This subclass reads TRACKER_STORE_URL (any SQLAlchemy URL) and
falls back to a SQLite file under var/, which keeps conversations across server restarts.

Two duties on top of Rasa's store:
- Credentials people paste ("my password is …") are redacted in what is written, with the same
  redactor that cleans the notes, and so are the copies NLU made of them (entities, slots). The
  turn itself still sees the raw text (NLU and the action server run before the tracker is
  saved); only the stored copy, read back on the next turn and by anyone with database access,
  is redacted.
- Conversations idle for TRACKER_RETENTION_DAYS (default 90; 0 keeps them forever) are deleted at
  start-up and then at most once an hour, so the store never grows without bound.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_addons.scrub import MEMORY, SecretMemory

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RETENTION_DAYS = 90
PRUNE_EVERY_S = 3600
TEXT_FIELDS = frozenset({"text", "value", "parse_data", "entities", "metadata"})


def tracker_store_url() -> str:
    url = os.environ.get("TRACKER_STORE_URL", "").strip()
    if url:
        return url
    var_dir = Path(os.environ.get("VAR_DIR", "").strip() or PROJECT_ROOT / "var")
    var_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{var_dir / 'tracker.db'}"


def retention_days() -> float:
    raw = os.environ.get("TRACKER_RETENTION_DAYS", "").strip() or str(DEFAULT_RETENTION_DAYS)
    try:
        days = float(raw)
    except ValueError:
        raise ValueError(f"TRACKER_RETENTION_DAYS must be a number of days, not {raw!r}") from None
    if days < 0:
        raise ValueError("TRACKER_RETENTION_DAYS must be 0 (keep forever) or more")
    return days


def scrub_fields(data: Any, memory: SecretMemory, is_text: bool = False) -> Any:
    """`data` (an event's dict) cleared of remembered secrets everywhere, and redacted under the
    keys that hold what people typed or were told (ids, names and timestamps need no redactor)."""
    if isinstance(data, str):
        return memory.scrub(data, redact_first=is_text)
    if isinstance(data, dict):
        return {key: scrub_fields(item, memory, is_text or key in TEXT_FIELDS) for key, item in data.items()}
    if isinstance(data, list):
        return [scrub_fields(item, memory, is_text) for item in data]
    return data


class RedactedEvent:
    """What SQLTrackerStore.save reads of an event (`type_name`, `as_dict()`), redacted."""

    def __init__(self, event: Event, memory: SecretMemory) -> None:
        self.event = event
        self.type_name = event.type_name
        self.memory = memory

    def as_dict(self) -> dict[str, Any]:
        return scrub_fields(self.event.as_dict(), self.memory)


class UrlSQLTrackerStore(SQLTrackerStore):
    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        url = tracker_store_url()
        # Log the dialect only: the URL may carry a password.
        logger.info("tracker_store dialect=%s", url.split(":", 1)[0])
        self.retention_days = retention_days()
        self.last_pruned = 0.0
        # SQLTrackerStore treats a host containing "://" as a complete SQLAlchemy URL.
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
        self.prune()

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Any]:
        events = list(super()._additional_events(session, tracker))
        # NLU copies what people type into entities and slots ("Zx9…" as a model size), where
        # the value stands without the context ("密码是") that marks it as a secret.
        for event in events:
            if isinstance(event, UserUttered) and event.text:
                MEMORY.remember(event.text)
        return iter([RedactedEvent(event, MEMORY) for event in events])

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        if time.time() - self.last_pruned > PRUNE_EVERY_S:
            self.prune()

    def prune(self, now: float | None = None) -> int:
        """Deletes the conversations whose last event is older than the retention; how many events went."""
        self.last_pruned = time.time() if now is None else now
        if not self.retention_days:
            return 0
        cutoff = self.last_pruned - self.retention_days * 86400
        events = self.SQLEvent
        stale = (
            sa.select(events.sender_id)
            .group_by(events.sender_id)
            .having(sa.func.max(events.timestamp) < cutoff)
            .scalar_subquery()
        )
        with self.session_scope() as session:
            deleted = session.execute(
                sa.delete(events).where(events.sender_id.in_(stale)).execution_options(synchronize_session=False)
            ).rowcount
            session.commit()
        if deleted:
            logger.info("tracker_store pruned events=%d retention_days=%g", deleted, self.retention_days)
        return deleted
