"""Intranet webhook overhead over Rasa's plain REST channel (prints figures; not part of the tests).

    python bench/intranet.py [--n 200]

Starts the real action server and Rasa server (tests/servers.py), then sends the same message
("hello": NLU, dialogue and one action call, no LLM) to /webhooks/rest/webhook and to
/webhooks/intranet/webhook (Bearer token, and HMAC-signed), interleaved so both see the same load,
each request from a new sender so no rate limit or conversation history differs. Prints median and
p95 latency per channel and the overhead, plus the in-process cost of the checks alone.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from channels.auth import SignatureChecker, signed_headers, token_matches  # noqa: E402
from channels.payload import parse_inbound  # noqa: E402
from tests.servers import action_server, rasa_server  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(name: str, values: list[float]) -> str:
    median, p95 = statistics.median(values), pct(values, 0.95)
    return f"{name:<22} median {median:7.2f} ms   p95 {p95:7.2f} ms   n={len(values)}"


def checks_alone(n: int) -> list[float]:
    """Auth (token + signature) and validation in-process, without HTTP or Rasa."""
    tokens = [secrets.token_hex(16) for _ in range(3)]
    checker = SignatureChecker(secrets.token_hex(32))
    times = []
    for _ in range(n):
        raw = json.dumps(
            {"sender": uuid.uuid4().hex, "message": "LoRA 的 rank 怎么设", "metadata": {"a": 1}}
        ).encode()
        headers = signed_headers(checker.secret, raw)
        start = time.perf_counter()
        token_matches(tokens[2], tokens)
        checker.check(headers["X-Intranet-Timestamp"], headers["X-Intranet-Signature"], raw, time.time())
        parse_inbound(raw)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="requests per channel")
    args = parser.parse_args()
    token, secret = secrets.token_hex(16), secrets.token_hex(32)
    env = {"INTRANET_TOKENS": token, "INTRANET_HMAC_SECRET": secret}
    session = requests.Session()
    results: dict[str, list[float]] = {"rest": [], "intranet (token)": [], "intranet (hmac)": []}
    with tempfile.TemporaryDirectory() as tmp, action_server(Path(tmp)) as actions:
        tracker = f"sqlite:///{Path(tmp) / 'tracker.db'}"
        with rasa_server(Path(tmp), actions.url, tracker, env=env) as rasa:
            print(f"servers up (pid {os.getpid()}); warming up ...", flush=True)

            def send(kind: str) -> float:
                raw = json.dumps({"sender": f"bench-{uuid.uuid4().hex[:12]}", "message": "hello"}).encode()
                headers = {"Content-Type": "application/json"}
                url = f"{rasa.url}/webhooks/intranet/webhook"
                if kind == "rest":
                    url = f"{rasa.url}/webhooks/rest/webhook"
                elif kind == "intranet (token)":
                    headers["Authorization"] = f"Bearer {token}"
                else:
                    headers.update(signed_headers(secret, raw))
                start = time.perf_counter()
                reply = session.post(url, data=raw, headers=headers, timeout=30)
                elapsed = (time.perf_counter() - start) * 1000
                if reply.status_code != 200 or not reply.json():
                    raise RuntimeError(f"{kind}: {reply.status_code} {reply.text[:200]}")
                return elapsed

            for kind in results:
                for _ in range(10):
                    send(kind)
            for i in range(args.n):
                order = list(results) if i % 2 == 0 else list(reversed(results))
                for kind in order:
                    results[kind].append(send(kind))
    print(f"\n'hello' through the real Rasa + action servers, {args.n} interleaved requests per channel")
    for kind, values in results.items():
        print(line(kind, values))
    for kind in ("intranet (token)", "intranet (hmac)"):
        median = statistics.median(results[kind]) - statistics.median(results["rest"])
        p95 = pct(results[kind], 0.95) - pct(results["rest"], 0.95)
        print(f"overhead {kind:<16} median {median:+7.2f} ms   p95 {p95:+7.2f} ms")
    print(line("checks alone (in-proc)", checks_alone(2000)))


if __name__ == "__main__":
    main()
