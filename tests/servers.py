"""Start the real Rasa server and action server on free loopback ports for end-to-end tests."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
APP_PYTHON = ROOT / ".venv" / "bin" / "python"
MODEL = ROOT / "models" / "notes-assistant.tar.gz"
RASA_START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(**overrides: str) -> dict[str, str]:
    # SANIC_HOST: the action server listens on loopback only (rasa_sdk_plugins refuses otherwise).
    env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false", SANIC_HOST="127.0.0.1")
    env.update(overrides)
    return env


def run_in_rasa_env(script: str, timeout_s: float = 300) -> dict:
    """Runs `script` under .venv-rasa's Python, where Rasa lives; returns the JSON of its last line."""
    if not RASA_PYTHON.exists():
        raise FileNotFoundError(f"{RASA_PYTHON} is missing: run `make setup`")
    result = subprocess.run([str(RASA_PYTHON), "-c", script], cwd=ROOT, env=base_env(), capture_output=True,
                            text=True, timeout=timeout_s)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except (requests.ConnectionError, requests.Timeout):  # a loaded machine may answer late
        return False


def wait_until_up(
    url: str, process: subprocess.Popen, log: Path, timeout_s: float, ready: Callable[[], bool] | None = None
) -> None:
    """Until `ready()` (by default: `url` answers 200); fails with the log's tail if the process dies."""
    ready = ready or (lambda: http_ok(url))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if ready():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{url} not up after {timeout_s}s:\n{log.read_text()[-3000:]}")


@contextmanager
def running(
    cmd: list[str], health_url: str, log: Path, env: dict[str, str], timeout_s: float,
    ready: Callable[[], bool] | None = None,
) -> Iterator[None]:
    with log.open("w") as log_file:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        wait_until_up(health_url, process, log, timeout_s, ready)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class ActionServer:
    url: str


@dataclass(frozen=True)
class RasaServer:
    url: str
    # Credentials the intranet channel (channels/intranet.py) was started with.
    intranet_tokens: tuple[str, ...] = ()
    hmac_secret: str = ""
    log: Path | None = None
    # Rasa's HTTP API is on in tests, behind this token (`rasa run --auth-token`).
    api_token: str = ""
    tracker_db: Path | None = None  # the SQLite file, when the test made one

    def tracker(self, conversation_id: str) -> dict:
        """The conversation's tracker with all events, through Rasa's token-protected HTTP API."""
        reply = requests.get(
            f"{self.url}/conversations/{conversation_id}/tracker",
            params={"include_events": "ALL", "token": self.api_token},
            timeout=10,
        )
        reply.raise_for_status()
        return reply.json()

    @property
    def intranet_url(self) -> str:
        return f"{self.url}/webhooks/intranet/webhook"

    def intranet(self, body: dict | bytes, headers: dict[str, str] | None = None,
                 token: str | None = None, timeout_s: float = 60) -> requests.Response:
        """POST to the intranet webhook, with the first service token unless `token`/`headers` are given."""
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
        sent = {"Content-Type": "application/json"}
        if token is None and headers is None and self.intranet_tokens:
            token = self.intranet_tokens[0]
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        return requests.post(self.intranet_url, data=data, headers=sent, timeout=timeout_s)

    def send(self, sender: str, message: str, timeout_s: float = 60) -> list[dict]:
        reply = requests.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=timeout_s,
        )
        reply.raise_for_status()
        return reply.json()

    def texts(self, sender: str, message: str) -> list[str]:
        return [m["text"] for m in self.send(sender, message) if "text" in m]


@contextmanager
def action_server(workdir: Path, env: dict[str, str] | None = None) -> Iterator[ActionServer]:
    port = free_port()
    cmd = [str(APP_PYTHON), "-m", "rasa_sdk", "--actions", "actions", "--port", str(port),
           "--logging-config_file", str(ROOT / "logging.yml")]
    url = f"http://127.0.0.1:{port}"
    with running(cmd, f"{url}/health", workdir / f"actions-{port}.log", env or base_env(), 120):
        yield ActionServer(url)


@contextmanager
def rasa_server(
    workdir: Path, action_url: str, tracker_url: str, env: dict[str, str] | None = None, stock: bool = False
) -> Iterator[RasaServer]:
    """A Rasa server on a free port, using the trained model and the given tracker store URL.

    Its channels are those of credentials.yml (REST, the intranet webhook); `env` adds variables,
    e.g. INTRANET_TOKENS and INTRANET_HMAC_SECRET for the intranet channel. It starts as `make run`
    starts it, through rasa_addons.launch; `stock` starts plain `rasa run` (a bench's baseline).
    """
    if not MODEL.exists():
        raise FileNotFoundError(f"{MODEL} is missing: run `make train` (make test does it first)")
    port = free_port()
    endpoints = workdir / f"endpoints-{port}.yml"
    endpoints.write_text((ROOT / "endpoints.yml").read_text().replace("http://localhost:5055", action_url))
    api_token = secrets.token_urlsafe(24)
    launcher = [str(RASA)] if stock else [str(RASA_PYTHON), "-m", "rasa_addons.launch"]
    cmd = [
        *launcher,
        "run",
        "--enable-api",
        f"--auth-token={api_token}",  # one argument: a token may start with "-"
        "--port",
        str(port),
        "--interface",
        "127.0.0.1",
        "--model",
        str(MODEL),
        "--endpoints",
        str(endpoints),
        "--logging-config-file",
        str(ROOT / "logging.yml"),
    ]
    url = f"http://127.0.0.1:{port}"
    env = base_env(TRACKER_STORE_URL=tracker_url, **(env or {}))
    log = workdir / f"rasa-{port}.log"
    with running(cmd, f"{url}/status?token={api_token}", log, env, RASA_START_TIMEOUT_S):
        # Entries are `name:token` or a bare token (channels/settings.py); callers send the token.
        entries = [entry.strip() for entry in env.get("INTRANET_TOKENS", "").split(",") if entry.strip()]
        tokens = tuple(entry.split(":", 1)[-1] for entry in entries)
        yield RasaServer(url, tokens, env.get("INTRANET_HMAC_SECRET", ""), log, api_token)


@contextmanager
def telegram_bridge(workdir: Path, env: dict[str, str], ready: Callable[[], bool], name: str = "bridge",
                    health_url: str = "") -> Iterator[Path]:
    """The Telegram bridge (`python -m channels.telegram_bridge`) until it is `ready()`; yields its log."""
    log = workdir / f"telegram-{name}-{free_port()}.log"
    cmd = [str(APP_PYTHON if APP_PYTHON.exists() else sys.executable), "-m", "channels.telegram_bridge"]
    with running(cmd, health_url or "telegram bridge", log, base_env(**env), 60, ready):
        yield log
