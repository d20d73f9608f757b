"""Conversations live in the SQL tracker store and survive a restart of the Rasa server."""

from __future__ import annotations

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


def test_conversation_survives_server_restart(
    tracker_url: str, tmp_path: Path, actions: ActionServer
) -> None:
    sender = f"persist-{uuid.uuid4().hex[:10]}"
    with rasa_server(tmp_path, actions.url, tracker_url) as first:
        first.texts(sender, "hello")
        first.texts(sender, "thanks!")
    with rasa_server(tmp_path, actions.url, tracker_url) as second:
        assert user_texts(second, sender) == ["hello", "thanks!"]
        second.texts(sender, "bye")
        assert user_texts(second, sender) == ["hello", "thanks!", "bye"]
