"""Start the real Rasa server and action server on free loopback ports for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
APP_PYTHON = ROOT / ".venv" / "bin" / "python"
MODEL = ROOT / "models" / "notes-assistant.tar.gz"
RASA_START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false")
    env.update(overrides)
    return env


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not up after {timeout_s}s:\n{log.read_text()[-3000:]}")


@contextmanager
def running(
    cmd: list[str], health_url: str, log: Path, env: dict[str, str], timeout_s: float
) -> Iterator[None]:
    with log.open("w") as log_file:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        wait_until_up(health_url, process, log, timeout_s)
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
    cmd = [str(APP_PYTHON), "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(cmd, f"{url}/health", workdir / f"actions-{port}.log", env or base_env(), 120):
        yield ActionServer(url)


@contextmanager
def rasa_server(workdir: Path, action_url: str, tracker_url: str) -> Iterator[RasaServer]:
    """A Rasa server on a free port, using the trained model and the given tracker store URL."""
    if not MODEL.exists():
        raise FileNotFoundError(f"{MODEL} is missing: run `make train` (make test does it first)")
    port = free_port()
    endpoints = workdir / f"endpoints-{port}.yml"
    endpoints.write_text((ROOT / "endpoints.yml").read_text().replace("http://localhost:5055", action_url))
    cmd = [
        str(RASA),
        "run",
        "--enable-api",
        "--port",
        str(port),
        "--interface",
        "127.0.0.1",
        "--model",
        str(MODEL),
        "--endpoints",
        str(endpoints),
    ]
    url = f"http://127.0.0.1:{port}"
    env = base_env(TRACKER_STORE_URL=tracker_url)
    with running(cmd, f"{url}/status", workdir / f"rasa-{port}.log", env, RASA_START_TIMEOUT_S):
        yield RasaServer(url)
