"""Cost of the intranet webhook's checks per request: before and after the hardening, side by side.

    python -m bench.intranet [--n 3000] [--servers 200]

In-process (default): the checks a request goes through before it reaches Rasa — authentication
(Bearer token or HMAC signature), body validation and rate limits — timed per request, old
(the checks as they were before credential-bound identities, kept below as `Old*`) and new
(channels/), interleaved so both see the same machine load. Bodies: a typical message with
metadata, and a 15 KB body with metadata nested 8 levels (the most the new checks walk).

With --servers N: also starts the real action and Rasa servers (tests/servers.py) and sends
"hello" N times to /webhooks/rest/webhook and to /webhooks/intranet/webhook (Bearer and HMAC),
interleaved, each from a new sender; prints median and p95 latency per channel and the overhead.
"""

from __future__ import annotations

import argparse
import hmac
import json
import secrets
import statistics
import tempfile
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import requests

from bench.stats import percentile
from channels.auth import Authenticator, SignatureChecker, conversation_id, sign, signed_headers
from channels.payload import parse_inbound
from channels.ratelimit import IntranetLimits, RateLimiter, client_address, parse_networks
from channels.settings import parse_tokens

# --- the checks before the hardening (channels/ as of the parent commit), for the comparison --------


def old_token_matches(token: str, tokens: list[str]) -> bool:
    given, found = token.encode("utf-8"), False
    for candidate in tokens:
        found |= hmac.compare_digest(given, candidate.encode("utf-8"))
    return found


class OldSignatureChecker:
    def __init__(self, secret: str, window_s: int = 300) -> None:
        self.secret, self.window_s, self._seen = secret, window_s, OrderedDict()

    def check(self, timestamp: str, signature: str, body: bytes, now: float) -> str | None:
        if not timestamp.isdigit() or abs(now - int(timestamp)) > self.window_s:
            return "bad timestamp"
        if not hmac.compare_digest(
            signature.strip().encode("utf-8"), sign(self.secret, timestamp, body).encode()
        ):
            return "bad signature"
        while self._seen and next(iter(self._seen.values())) <= now:
            self._seen.popitem(last=False)
        if signature in self._seen:
            return "replayed request"
        self._seen[signature] = now + self.window_s
        return None


def old_parse(body: bytes) -> tuple[str, str, dict]:
    data = json.loads(body.decode("utf-8"))
    sender, message, metadata = data["sender"], data["message"], data.get("metadata") or {}
    assert isinstance(sender, str) and sender.strip() and len(sender) <= 128
    assert isinstance(message, str) and message.strip() and len(message.encode("utf-8")) <= 4096
    assert isinstance(metadata, dict)
    return sender, message, metadata


# --- the in-process comparison ----------------------------------------------------------------------


def tree(depth: int, width: int) -> object:
    """A JSON value `depth` levels of objects deep, `width` keys per level."""
    value: object = "leaf-值"
    for _ in range(depth):
        value = {f"k{i}": value for i in range(width)}
    return value


def make_body(kind: str) -> bytes:
    sender = f"telegram-{uuid.uuid4().int % 10**10}"
    if kind == "typical":
        metadata: dict = {
            "user_id": 123456789,
            "username": "alice",
            "language": "zh-hans",
            "chat_type": "private",
        }
        message = "QLoRA 是怎么节省显存的？ How much VRAM does a 7B model need?"
    else:  # near the 16 KB limit, metadata at the full depth of 8 (itself + 7)
        metadata = {"deep": tree(7, 2), "pad": ""}
        message = "长" * 1300
    body = {"sender": sender, "message": message, "metadata": metadata}
    if kind != "typical":
        size = len(json.dumps(body, ensure_ascii=False).encode())
        metadata["pad"] = "y" * (15_000 - size)
    return json.dumps(body, ensure_ascii=False).encode()


class Pipelines:
    """One request through the old checks and through the new ones, Bearer or HMAC."""

    def __init__(self) -> None:
        self.tokens = [secrets.token_urlsafe(32) for _ in range(3)]
        self.secret = secrets.token_hex(32)
        self.old_signatures = OldSignatureChecker(self.secret)
        self.old_limiter = RateLimiter(30, 10)
        credentials = parse_tokens(",".join(["bridge:" + self.tokens[0], *self.tokens[1:]]))
        self.auth = Authenticator(credentials, SignatureChecker(self.secret))
        self.limits = IntranetLimits(
            RateLimiter(10, 10), RateLimiter(600, 60), RateLimiter(600, 60), RateLimiter(30, 10)
        )
        self.trusted = parse_networks(["127.0.0.1", "::1"])

    def old(self, body: bytes, headers: dict[str, str]) -> None:
        if "Authorization" in headers:
            assert old_token_matches(headers["Authorization"].split(" ", 1)[1], self.tokens)
        else:
            ts, sig = headers["X-Intranet-Timestamp"], headers["X-Intranet-Signature"]
            assert self.old_signatures.check(ts, sig, body, time.time()) is None
        sender, _, _ = old_parse(body)
        assert self.old_limiter.acquire(sender) == 0

    def new(self, body: bytes, headers: dict[str, str]) -> None:
        address = client_address("127.0.0.1", "198.51.100.7", self.trusted)
        assert self.limits.auth_blocked(address) is None
        ts, sig = headers.get("X-Intranet-Timestamp"), headers.get("X-Intranet-Signature")
        verdict = self.auth.from_headers(headers.get("Authorization"), ts, sig)
        if verdict.credential is None:
            verdict = self.auth.with_body(ts, sig, body, time.time())
        assert verdict.credential, verdict.reason
        inbound = parse_inbound(body)
        conversation = conversation_id(verdict.credential, inbound.sender)
        assert self.limits.admit(verdict.credential, address, conversation) is None
        # The bench sends far more than the generous limits allow; only their cost is measured.
        self.limits.per_credential._buckets.clear()
        self.limits.per_address._buckets.clear()

    def headers(self, kind: str, body: bytes) -> dict[str, str]:
        if kind == "bearer":
            return {"Authorization": f"Bearer {self.tokens[0]}"}
        return signed_headers(self.secret, body)


def time_ms(run: Callable[[bytes, dict[str, str]], None], body: bytes, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    run(body, headers)
    return (time.perf_counter() - start) * 1000


def compare_in_process(n: int) -> None:
    pipes = Pipelines()
    print(f"\nchecks per request, in process, {n} requests per row (ms)")
    columns = ("old median", 11), ("old p95", 9), ("new median", 12), ("new p95", 9), ("added p95", 11)
    print(f"{'auth':<7}{'body':<9}" + "".join(f"{name:>{width}}" for name, width in columns))
    for auth in ("bearer", "hmac"):
        for kind in ("typical", "15 KB"):
            old, new = [], []
            for i in range(n):
                body_old, body_new = make_body(kind), make_body(kind)
                pairs = [(pipes.old, old, body_old), (pipes.new, new, body_new)]
                for run, out, body in pairs if i % 2 == 0 else reversed(pairs):
                    headers = pipes.headers(auth, body)  # signed outside the timed part
                    out.append(time_ms(run, body, headers))
            old_p95, new_p95 = percentile(old, 0.95), percentile(new, 0.95)
            print(
                f"{auth:<7}{kind:<9}{statistics.median(old):>11.3f}{old_p95:>9.3f}"
                f"{statistics.median(new):>12.3f}{new_p95:>9.3f}{new_p95 - old_p95:>+11.3f}"
            )


# --- end to end through the real servers (optional) ------------------------------------------------


def line(name: str, values: list[float]) -> str:
    median, p95 = statistics.median(values), percentile(values, 0.95)
    return f"{name:<22} median {median:7.2f} ms   p95 {p95:7.2f} ms   n={len(values)}"


def compare_servers(n: int) -> None:
    from tests.servers import action_server, rasa_server  # needs the trained model and both venvs

    token, secret = secrets.token_hex(16), secrets.token_hex(32)
    env = {
        "INTRANET_TOKENS": token,
        "INTRANET_HMAC_SECRET": secret,
        "INTRANET_RATE_PER_CREDENTIAL_PER_MINUTE": "100000",
        "INTRANET_RATE_PER_CREDENTIAL_BURST": "100000",
        "INTRANET_RATE_PER_ADDRESS_PER_MINUTE": "100000",
        "INTRANET_RATE_PER_ADDRESS_BURST": "100000",
    }
    session = requests.Session()
    results: dict[str, list[float]] = {"rest": [], "intranet (token)": [], "intranet (hmac)": []}
    with tempfile.TemporaryDirectory() as tmp, action_server(Path(tmp)) as actions:
        tracker = f"sqlite:///{Path(tmp) / 'tracker.db'}"
        with rasa_server(Path(tmp), actions.url, tracker, env=env) as rasa:
            print("servers up; warming up ...", flush=True)

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
            for i in range(n):
                for kind in list(results) if i % 2 == 0 else list(reversed(results)):
                    results[kind].append(send(kind))
    print(f"\n'hello' through the real Rasa + action servers, {n} interleaved requests per channel")
    for kind, values in results.items():
        print(line(kind, values))
    for kind in ("intranet (token)", "intranet (hmac)"):
        median = statistics.median(results[kind]) - statistics.median(results["rest"])
        p95 = percentile(results[kind], 0.95) - percentile(results["rest"], 0.95)
        print(f"overhead {kind:<16} median {median:+7.2f} ms   p95 {p95:+7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="requests per row, in process")
    parser.add_argument(
        "--servers", type=int, default=0, help="also N requests per channel through real servers"
    )
    args = parser.parse_args()
    compare_in_process(args.n)
    if args.servers:
        compare_servers(args.servers)


if __name__ == "__main__":
    main()
