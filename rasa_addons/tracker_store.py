"""A SQL tracker store configured by one URL, so SQLite and PostgreSQL need no config change.

Rasa's own SQLTrackerStore takes dialect/host/port/db pieces, and endpoints.yml cannot give an
environment variable a default. This subclass reads TRACKER_STORE_URL (any SQLAlchemy URL) and
falls back to a SQLite file under var/, which keeps conversations across server restarts.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def tracker_store_url() -> str:
    url = os.environ.get("TRACKER_STORE_URL", "").strip()
    if url:
        return url
    var_dir = Path(os.environ.get("VAR_DIR", "").strip() or PROJECT_ROOT / "var")
    var_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{var_dir / 'tracker.db'}"


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
        # SQLTrackerStore treats a host containing "://" as a complete SQLAlchemy URL.
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
