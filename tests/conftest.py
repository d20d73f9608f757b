from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ActionServer, RasaServer, action_server, rasa_server


@pytest.fixture(scope="session")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def actions(server_dir: Path) -> Iterator[ActionServer]:
    with action_server(server_dir) as server:
        yield server


@pytest.fixture(scope="session")
def rasa(server_dir: Path, actions: ActionServer) -> Iterator[RasaServer]:
    """The real Rasa server with the trained model, talking to the real action server."""
    tracker_url = f"sqlite:///{server_dir / 'tracker.db'}"
    with rasa_server(server_dir, f"{actions.url}", tracker_url) as server:
        yield server
