from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ActionServer, RasaServer, action_server, rasa_server

# tests/unit: no servers, no model (`make test-fast`); tests/integration: the real model and real
# databases; tests/e2e: the real servers. The folder decides the marker, so no file is forgotten.
LEVELS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.path)).relative_to(Path(__file__).parent).parts
        if parts and parts[0] in LEVELS:
            item.add_marker(getattr(pytest.mark, parts[0]))


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
    # The intranet channel (credentials.yml) gets throwaway credentials: one token for tests, one
    # for the Telegram bridge, and an HMAC secret. Links to sources point at a local, unused address.
    intranet = {
        "INTRANET_TOKENS": f"test:{secrets.token_hex(16)},bridge:{secrets.token_hex(16)}",
        "INTRANET_HMAC_SECRET": secrets.token_hex(32),
        "INTRANET_NOTES_BASE_URL": "http://127.0.0.1:9/notes",
    }
    with rasa_server(server_dir, f"{actions.url}", tracker_url, env=intranet) as server:
        yield server
