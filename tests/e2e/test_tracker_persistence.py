"""Conversations live in the SQL tracker store, survive a restart of the Rasa server, and are
deleted once idle for TRACKER_RETENTION_DAYS (rasa_addons/tracker_store.py)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.servers import ActionServer, RasaServer, rasa_server

pytestmark = pytest.mark.servers
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def user_texts(server: RasaServer, sender: str) -> list[str]:
    return [e["text"] for e in server.tracker(sender)["events"] if e["event"] == "user"]


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracker.db'}"
        return
    yield POSTGRES_URL
    # The shared test database keeps no conversations from test runs.
    with psycopg.connect(POSTGRES_URL) as conn:
        conn.execute("DELETE FROM events WHERE sender_id LIKE 'persist-%'")


def age_conversation(tracker_url: str, sender: str, days: float) -> None:
    """Moves every event of `sender` `days` into the past, as if the conversation had gone idle."""
    query = "UPDATE events SET timestamp = timestamp - {} WHERE sender_id = {}"
    if tracker_url.startswith("sqlite"):
        with sqlite3.connect(tracker_url.removeprefix("sqlite:///")) as db:
            db.execute(query.format("?", "?"), (days * 86400, sender))
    else:
        with psycopg.connect(tracker_url) as conn:
            conn.execute(query.format("%s", "%s"), (days * 86400, sender))


def test_conversation_survives_server_restart_and_idle_ones_are_pruned(
    tracker_url: str, tmp_path: Path, actions: ActionServer
) -> None:
    sender, idle, recent = (f"persist-{uuid.uuid4().hex[:10]}" for _ in range(3))
    with rasa_server(tmp_path, actions.url, tracker_url) as first:
        first.texts(sender, "hello")
        first.texts(sender, "thanks!")
        first.texts(idle, "hello")
        first.texts(recent, "hello")
    age_conversation(tracker_url, idle, days=31)
    age_conversation(tracker_url, recent, days=29)
    with rasa_server(tmp_path, actions.url, tracker_url, env={"TRACKER_RETENTION_DAYS": "30"}) as second:
        assert user_texts(second, sender) == ["hello", "thanks!"]
        second.texts(sender, "bye")
        assert user_texts(second, sender) == ["hello", "thanks!", "bye"]
        assert user_texts(second, recent) == ["hello"]
        assert user_texts(second, idle) == []  # pruned at start-up: a new, empty conversation
        assert second.log is not None and "tracker_store pruned" in second.log.read_text()
