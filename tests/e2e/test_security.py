"""Who can reach what, probed against the real servers as `make run` starts them (SECURITY.md).

The exposure tests look from a second host: a network namespace joined to this one by a veth
pair, so a connection from it crosses a real interface exactly as one from another machine would.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import requests

from llm_fallback.text.replies import say
from tests.servers import APP_PYTHON, ROOT, RasaServer, base_env, free_port, http_ok, rasa_server

pytestmark = pytest.mark.servers
RUN_SH = ROOT / "scripts" / "run.sh"
START_TIMEOUT_S = 240

# Runs inside the probe namespace: one HTTP request, the status code (or "refused") as JSON.
PROBE = """
import json, sys, urllib.request, urllib.error
method, url, body, headers = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
req = urllib.request.Request(url, data=body.encode() or None, method=method, headers=headers)
try:
    with urllib.request.urlopen(req, timeout=60) as reply:
        print(json.dumps({"status": reply.status, "body": reply.read().decode()}))
except urllib.error.HTTPError as error:
    print(json.dumps({"status": error.code, "body": error.read().decode()}))
except (urllib.error.URLError, OSError) as error:
    print(json.dumps({"status": "refused", "body": str(error)}))
"""


@dataclass(frozen=True)
class SecondHost:
    """A network namespace with its own interface; `host_ip` is this machine as it sees it."""

    namespace: str
    host_ip: str

    def request(self, method: str, url: str, body: dict | None = None,
                headers: dict[str, str] | None = None) -> tuple[int | str, str]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        out = subprocess.run(
            ["ip", "netns", "exec", self.namespace, str(APP_PYTHON), "-c", PROBE, method, url,
             json.dumps(body) if body is not None else "", json.dumps(sent)],
            capture_output=True, text=True, timeout=90, check=True,
        )
        result = json.loads(out.stdout)
        return result["status"], result["body"]


@pytest.fixture(scope="module")
def second_host() -> Iterator[SecondHost]:
    tag = secrets.token_hex(3)
    namespace, host_side, probe_side = f"probe{tag}", f"vh{tag}", f"vp{tag}"
    subnet = f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(250)}"
    commands = [
        ["ip", "netns", "add", namespace],
        ["ip", "link", "add", host_side, "type", "veth", "peer", "name", probe_side],
        ["ip", "link", "set", probe_side, "netns", namespace],
        ["ip", "addr", "add", f"{subnet}.1/30", "dev", host_side],
        ["ip", "link", "set", host_side, "up"],
        ["ip", "netns", "exec", namespace, "ip", "addr", "add", f"{subnet}.2/30", "dev", probe_side],
        ["ip", "netns", "exec", namespace, "ip", "link", "set", probe_side, "up"],
    ]
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True, timeout=20)
        yield SecondHost(namespace, f"{subnet}.1")
    finally:
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=20)


@dataclass
class Stack:
    """`scripts/run.sh run` in a session of its own (so a signal reaches the script alone)."""

    process: subprocess.Popen
    rasa_port: int
    action_port: int
    log: Path

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text()[-3000:]
                raise RuntimeError(f"run.sh exited ({self.process.returncode}):\n{tail}")
            if http_ok(f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/") and http_ok(
                f"http://127.0.0.1:{self.action_port}/health"
            ):
                return
            time.sleep(1)
        raise TimeoutError(f"run.sh not up after {START_TIMEOUT_S}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_stack(tmp_path: Path, **env: str) -> Stack:
    rasa_port, action_port = free_port(), free_port()
    log = tmp_path / f"run-{rasa_port}.log"
    environment = base_env(RASA_PORT=str(rasa_port), ACTION_PORT=str(action_port),
                           TRACKER_STORE_URL=f"sqlite:///{tmp_path / 'tracker.db'}", **env)
    for name in ("SANIC_HOST", "RASA_INTERFACE", "ACTION_INTERFACE", "RASA_API"):
        if name not in env:
            environment.pop(name, None)  # the product's defaults, not the test harness's
    with log.open("w") as out:
        process = subprocess.Popen(["bash", str(RUN_SH), "run"], cwd=ROOT, env=environment, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                   preexec_fn=_as_from_a_terminal)
    return Stack(process, rasa_port, action_port, log)


def _as_from_a_terminal() -> None:
    # Tests run under `nohup` hand SIGHUP down ignored, and bash cannot trap a signal ignored when it
    # starts: run.sh would rightly keep running, as `nohup make run` should. A terminal does not
    # ignore it, and that is the case these tests stand for.
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def listening(port: int) -> bool:
    out = subprocess.run(["ss", "-Htln", f"sport = :{port}"], capture_output=True, text=True, check=True)
    return bool(out.stdout.strip())


def test_run_sh_refuses_an_exposed_action_server_or_api_without_credentials(tmp_path: Path) -> None:
    for env, said in (
        ({"ACTION_INTERFACE": "0.0.0.0"}, "ACTION_SERVER_TOKEN"),
        ({"RASA_API": "on"}, "RASA_AUTH_TOKEN or RASA_JWT_SECRET"),
        ({"RASA_API": "yes please"}, "must be 'on' or 'off'"),
    ):
        environment = base_env(RASA_PORT=str(free_port()), ACTION_PORT=str(free_port()), **env)
        out = subprocess.run(["bash", str(RUN_SH), "run"], cwd=ROOT, env=environment, capture_output=True,
                             text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert out.returncode == 1 and said in out.stderr, (env, out.stderr)


def test_action_server_refuses_to_listen_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    environment = base_env(SANIC_HOST="0.0.0.0")
    environment.pop("ACTION_SERVER_TOKEN", None)
    command = [str(APP_PYTHON), "-m", "rasa_sdk", "--actions", "actions", "--port", str(free_port())]
    out = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert out.returncode != 0
    assert "set ACTION_SERVER_TOKEN" in out.stdout + out.stderr


def test_default_run_is_reachable_from_this_host_only_and_stops_on_sighup(
    tmp_path: Path, second_host: SecondHost
) -> None:
    stack = start_stack(tmp_path)
    try:
        stack.wait_until_up()
        for port in (stack.rasa_port, stack.action_port):
            status, _ = second_host.request("GET", f"http://{second_host.host_ip}:{port}/")
            assert status == "refused", port
        # Rasa's HTTP API is off: no tracker, no model upload, even from this host.
        local = f"http://127.0.0.1:{stack.rasa_port}"
        assert requests.get(f"{local}/conversations/telegram-1/tracker", timeout=10).status_code == 404
        assert requests.put(f"{local}/model", json={"model_file": "x"}, timeout=10).status_code in (404, 405)
        reply = requests.post(f"{local}/webhooks/rest/webhook", json={"sender": "me", "message": "hello"},
                              timeout=120)
        assert reply.status_code == 200 and reply.json()[0]["text"]
        # Closing the terminal (SIGHUP to the script alone) stops both servers.
        os.kill(stack.process.pid, signal.SIGHUP)
        stack.process.wait(timeout=60)
        deadline = time.monotonic() + 30
        while (listening(stack.rasa_port) or listening(stack.action_port)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not listening(stack.rasa_port) and not listening(stack.action_port)
    finally:
        stack.stop()


def test_exposed_run_lets_nothing_through_without_credentials(
    tmp_path: Path, second_host: SecondHost
) -> None:
    api_token, action_token, intranet_token = (secrets.token_urlsafe(24) for _ in range(3))
    stack = start_stack(
        tmp_path, RASA_INTERFACE="0.0.0.0", ACTION_INTERFACE="0.0.0.0", RASA_API="on",
        RASA_AUTH_TOKEN=api_token, ACTION_SERVER_TOKEN=action_token,
        INTRANET_TOKENS=f"portal:{intranet_token}",
    )
    try:
        stack.wait_until_up()
        rasa = f"http://{second_host.host_ip}:{stack.rasa_port}"
        actions = f"http://{second_host.host_ip}:{stack.action_port}"
        forged_call = {"next_action": "action_answer_from_notes", "sender_id": "x",
                       "tracker": {"sender_id": "x", "events": [], "slots": {}, "latest_message": {}},
                       "domain": {}}
        refused = [
            ("GET", f"{rasa}/conversations/portal:alice/tracker", None, {}, 401),
            ("GET", f"{rasa}/status", None, {}, 401),
            ("POST", f"{rasa}/webhooks/rest/webhook", {"sender": "a", "message": "hi"}, {}, 403),
            ("POST", f"{rasa}/webhooks/intranet/webhook", {"sender": "a", "message": "hi"}, {}, 401),
            ("POST", f"{actions}/webhook", forged_call, {}, 401),
            ("POST", f"{actions}/webhook", forged_call, {"Authorization": f"Bearer {api_token}"}, 401),
        ]
        for method, url, body, headers, expected in refused:
            status, _ = second_host.request(method, url, body, headers)
            assert status == expected, (method, url, status)
        # With credentials the same routes work, and Rasa reaches the action server with its token.
        status, body = second_host.request("POST", f"{rasa}/webhooks/intranet/webhook",
                                           {"sender": "alice", "message": "What does top_p do?"},
                                           {"Authorization": f"Bearer {intranet_token}"})
        assert status == 200 and "top_p" in body.lower(), body
        assert say("unavailable", "en") not in body
        status, _ = second_host.request("GET", f"{rasa}/status?token={api_token}")
        assert status == 200
        status, _ = second_host.request("GET", f"{actions}/health")
        assert status == 200
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def rasa_without_actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaServer]:
    """A Rasa server whose action server is down (nothing listens at its address)."""
    workdir = tmp_path_factory.mktemp("no-actions")
    token = secrets.token_urlsafe(16)
    tracker_db = workdir / "tracker.db"
    # At DEBUG Rasa logs every message it receives, which is what the log redaction must catch.
    with rasa_server(workdir, f"http://127.0.0.1:{free_port()}", f"sqlite:///{tracker_db}",
                     env={"INTRANET_TOKENS": token, "LOG_LEVEL": "DEBUG"}) as server:
        yield replace(server, tracker_db=tracker_db)


@pytest.mark.parametrize("message, lang", [("What is LoRA?", "en"), ("LoRA 是什么？", "zh")])
def test_action_server_down_gets_a_clear_reply_on_every_channel(
    rasa_without_actions: RasaServer, message: str, lang: str
) -> None:
    expected = say("unavailable", lang)
    sender = f"down-{uuid.uuid4().hex[:8]}"
    assert rasa_without_actions.texts(sender, message) == [expected]
    streamed = requests.post(f"{rasa_without_actions.url}/webhooks/rest/webhook?stream=true",
                             json={"sender": sender, "message": message}, timeout=120)
    assert [json.loads(line)["text"] for line in streamed.text.splitlines()] == [expected]
    reply = rasa_without_actions.intranet({"sender": sender, "message": message})
    assert reply.status_code == 200 and [m["text"] for m in reply.json()] == [expected]


def test_pasted_credentials_are_never_repeated(rasa: RasaServer) -> None:
    secret = "Zx9" + secrets.token_hex(10)
    sender = f"paste-{uuid.uuid4().hex[:8]}"
    replies = rasa.texts(sender, f"我们的数据库密码是 {secret}，帮我看看 LoRA 怎么调")
    replies += rasa.texts(sender, f"export OPENAI_API_KEY=sk-{secret}{secret}")
    assert replies and not any(secret in text for text in replies)
    assert all(secret not in json.dumps(event) for event in rasa.tracker(sender)["events"])


def test_pasted_credentials_are_kept_out_of_the_tracker_store_and_debug_logs(
    rasa_without_actions: RasaServer,
) -> None:
    """At DEBUG, Rasa logs every message it receives: the logs must hold the redacted text only."""
    secret = "Zx9" + secrets.token_hex(10)
    sender = f"paste-{uuid.uuid4().hex[:8]}"
    rasa_without_actions.texts(sender, f"我们的数据库密码是 {secret}")
    rasa_without_actions.texts(sender, f"PGPASSWORD={secret} psql -h db -U app")
    with sqlite3.connect(rasa_without_actions.tracker_db) as db:
        stored = [row[0] for row in db.execute("SELECT data FROM events WHERE sender_id = ?", (sender,))]
    assert sum("[REDACTED]" in data for data in stored) >= 2
    assert not any(secret in data for data in stored)
    assert rasa_without_actions.log is not None
    log = rasa_without_actions.log.read_text(errors="replace")
    assert "[REDACTED]" in log  # DEBUG logging did see the messages
    assert secret not in log
