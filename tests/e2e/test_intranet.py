"""The intranet webhook (channels/intranet.py): its pieces in process, then end to end through the
real Rasa and action servers.

Every response is also checked against channels/openapi.yaml (tests/openapi_check.py), and two
bounded property tests hold the code to the contract: parse_inbound accepts exactly the bodies the
schema accepts, and no request the fuzzer builds gets anything but a documented 4xx (or a 200).
Requests that are meant to fail authentication say which client they come from
(X-Forwarded-For, trusted from loopback): the failure throttle is per client address, and the
loopback's own budget is left to the other test modules.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.auth import (
    Authenticator,
    SignatureChecker,
    conversation_id,
    credential_for,
    normalise_signature,
    sign,
    signed_headers,
)
from channels.payload import MAX_MESSAGE_BYTES, PayloadError, parse_inbound
from channels.ratelimit import IntranetLimits, RateLimiter, client_address, parse_networks
from channels.settings import (
    CREDENTIAL_NAME,
    Credential,
    IntranetSettings,
    TelegramSettings,
    derived_name,
    first_token,
    parse_frame_ancestors,
    parse_tokens,
)
from channels.sources import sources_from_text, with_urls
from tests.openapi_check import assert_conforms, request_errors
from tests.servers import ROOT, RasaServer

NOTE_FILES = {p.name for p in (ROOT / "notes").glob("*.md")}
LOOPBACK = parse_networks(["127.0.0.1", "::1"])
# Bounded and reproducible: the same examples on every run, no example database on disk.
IN_PROCESS = settings(max_examples=300, deadline=None, derandomize=True, database=None)
AGAINST_SERVER = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def greeting(lang: str) -> str:
    variations = yaml.safe_load(Path(ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"][
        "utter_greet"
    ]
    english = [v["text"] for v in variations if any(c.get("value") == "en" for c in v.get("condition", []))]
    plain = [v["text"] for v in variations if not v.get("condition")]
    return (english if lang == "en" else plain)[0]


def new_sender() -> str:
    return f"intranet-{uuid.uuid4().hex[:10]}"


def new_client() -> str:
    """A client address of its own (documentation range, only ever named in a header)."""
    n = uuid.uuid4().int
    return f"2001:db8:{n >> 112 & 0xFFFF:x}:{n >> 96 & 0xFFFF:x}::1"


def as_client(address: str | None = None, **headers: str) -> dict[str, str]:
    return {"X-Forwarded-For": address or new_client(), **headers}


def body(message: str = "hello", sender: str | None = None, **extra: object) -> bytes:
    return json.dumps(
        {"sender": sender or new_sender(), "message": message, **extra}, ensure_ascii=False
    ).encode()


def not_json(constant: str) -> Any:
    raise ValueError(constant)


def user_events(rasa: RasaServer, conversation: str) -> list[dict]:
    return [e for e in rasa.tracker(conversation).get("events") or [] if e["event"] == "user"]


def depth_nested(depth: int) -> dict:
    """metadata whose objects nest `depth` levels (itself included)."""
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


# --- unit checks of the pieces (no server) ---------------------------------------------------------


def test_sources_are_read_from_an_answers_last_paragraph() -> None:
    text = "QLoRA 用 NF4 量化。\n\n来源：\n- fine-tuning.md › 微调 > QLoRA (lines 10-24)\n- b.md (lines 1-3)"
    assert sources_from_text(text) == [
        {"file": "fine-tuning.md", "heading": "微调 > QLoRA", "lines": "10-24"},
        {"file": "b.md", "heading": "", "lines": "1-3"},
    ]
    assert sources_from_text("Sources: none here") == []
    linked = with_urls(sources_from_text(text), "https://git.example/notes/")
    assert linked[0]["url"] == "https://git.example/notes/fine-tuning.md#L10-24"


def test_rate_limiter_allows_a_burst_then_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=3, max_keys=2, clock=lambda: now[0])
    assert [limiter.acquire("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.wait("a") == pytest.approx(1.0)  # looking takes nothing
    assert limiter.acquire("a") == pytest.approx(1.0)
    now[0] += 1.0
    assert limiter.acquire("a") == 0
    limiter.acquire("b")
    limiter.acquire("c")  # evicts "a", the least recently seen
    assert "a" not in limiter._buckets and len(limiter._buckets) == 2
    limiter.wait("d")
    assert "d" not in limiter._buckets  # a look stores nothing


# Bodies the webhook refuses, with the status and code: checked on the parser and on the server.
BAD_BODIES = [
        (b"{not json", 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_json"),
        (b'{"sender": "a"}', 400, "missing_field"),
        (b'{"sender": "a", "message": 5}', 400, "invalid_field"),
        (b'{"sender": "a", "message": "  "}', 400, "invalid_field"),
        (b'{"sender": 1, "message": "hi"}', 400, "invalid_field"),
        (b'{"sender": "a", "message": "hi", "metadata": []}', 400, "invalid_field"),
        (
            json.dumps({"sender": "a", "message": "x" * (MAX_MESSAGE_BYTES + 1)}).encode(),
            413,
            "message_too_large",
        ),
        # Python's JSON parser recurses: 3,000 levels used to escape as RecursionError (a 500).
        (
            b'{"sender": "a", "message": "hi", "metadata": {"x": ' + b"[" * 3000 + b"]" * 3000 + b"}}",
            400,
            "invalid_json",
        ),
        (
            b'{"sender": "a", "message": "hi", "metadata": {"x": ' + b"[" * 9 + b"]" * 9 + b"}}",
            400,
            "invalid_field",
        ),
        (
            json.dumps({"sender": "a", "message": "hi", "metadata": depth_nested(9)}).encode(),
            400,
            "invalid_field",
        ),
        (b'{"sender": "a", "message": "hi", "metadata": {"x": NaN}}', 400, "invalid_json"),
        (b'{"sender": "a", "message": "hi", "metadata": {"x": -Infinity}}', 400, "invalid_json"),
        (b'{"sender": "a", "message": "hi", "metadata": {"x": 1e999}}', 400, "invalid_json"),
        (b'{"sender": "a", "message": "hi", "metadata": {"x": ' + b"9" * 5000 + b"}}", 400, "invalid_json"),
        (b'{"sender": "a", "message": "\\ud800"}', 400, "invalid_field"),
        (b'{"sender": "\\udfff", "message": "hi"}', 400, "invalid_field"),
        (b'{"sender": "a", "message": "hi", "metadata": {"\\ud800": 1}}', 400, "invalid_field"),
        (b'{"sender": "a", "message": "hi", "metadata": {"x": ["\\udc00"]}}', 400, "invalid_field"),
        (b'{"sender": "a\\u0000b", "message": "hi"}', 400, "invalid_field"),
        (b'{"sender": "a\\nb", "message": "hi"}', 400, "invalid_field"),
]


@pytest.mark.parametrize(("raw", "status", "code"), BAD_BODIES)
def test_payload_errors(raw: bytes, status: int, code: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_inbound(raw)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_payload_limits_that_hold_are_accepted() -> None:
    parsed = parse_inbound(json.dumps({"sender": "a", "message": "hi", "metadata": depth_nested(8)}).encode())
    assert parsed.metadata == depth_nested(8)
    assert parse_inbound(b'{"sender": "a", "message": "\\ud83d\\ude00", "metadata": null}').message == "😀"
    assert parse_inbound(b'{"sender": "\xe5\xbc\xa0", "message": "tab\\tand\\nnewline"}').sender == "张"


# --- signatures ---------------------------------------------------------------------------------------

SECRET = "s" * 64
RAW = b'{"sender": "a", "message": "hi"}'


def test_a_signature_is_one_request_however_it_is_spelled() -> None:
    """Appending a space, a tab or a no-break space used to make a fresh replay-cache key."""
    now = 1_700_000_000
    checker = SignatureChecker(SECRET)
    headers = signed_headers(SECRET, RAW, now=now)
    ts, sig = headers["X-Intranet-Timestamp"], headers["X-Intranet-Signature"]
    for respelled in (sig + " ", sig + "\t", sig + "\u00a0", " " + sig, sig + "\n"):
        assert "bad signature format" in checker.check(ts, respelled, RAW, now)
    assert checker.check(ts, sig, RAW, now) is None
    for respelled in (sig.upper(), "SHA256=" + sig[7:], sig[:20] + sig[20:].upper()):
        assert checker.check(ts, respelled, RAW, now) == "replayed request"
    assert normalise_signature(sig.upper()) == sig
    # Not forgiven: other prefixes, lengths, non-ASCII that lower() maps to ASCII (Kelvin sign).
    for bad in ("sha1=" + sig[7:], sig[:-1], sig + "0", "sha256:" + sig[7:], sig[:-1] + "\u212a"):
        assert normalise_signature(bad) is None


def test_a_future_dated_signature_stays_refused_for_as_long_as_it_is_acceptable() -> None:
    window, arrival = 300, 1_700_000_000
    checker = SignatureChecker(SECRET, window_s=window)
    sent_at = arrival + window  # dated as far ahead as the window allows
    headers = signed_headers(SECRET, RAW, now=sent_at)
    ts, sig = headers["X-Intranet-Timestamp"], headers["X-Intranet-Signature"]
    assert checker.check(ts, sig, RAW, arrival) is None
    # Its entry used to expire at arrival + window; the timestamp is acceptable until sent_at + window.
    for later in (arrival + window + 1, sent_at + window - 0.5, sent_at + window):
        assert checker.check(ts, sig, RAW, later) == "replayed request", later
    assert checker.check(ts, sig, RAW, sent_at + window + 1) == "timestamp outside the replay window"
    # Forgotten once it can no longer be accepted anyway.
    fresh = signed_headers(SECRET, RAW, now=sent_at + window + 1)
    assert checker.check(*fresh.values(), RAW, sent_at + window + 1) is None
    assert list(checker._seen) == [fresh["X-Intranet-Signature"]]


@pytest.mark.parametrize(
    "timestamp",
    [
        "²",
        "١٧٠٠٠٠٠٠٠٠",
        "１７００",
        "17e8",
        "+1700000000",
        "-1",
        " 1700000000",
        "1700000000\n",
        "1700000000 ",
        "0x10",
        "9" * 13,
        "",
    ],
)
def test_timestamps_are_ascii_digits_only(timestamp: str) -> None:
    checker = SignatureChecker(SECRET)
    reason = checker.check(timestamp, sign(SECRET, "1700000000", RAW), RAW, 1_700_000_000)
    assert reason and ("bad timestamp" in reason or "missing" in reason)


def test_the_replay_cache_is_bounded_and_fails_closed() -> None:
    now = 1_700_000_000
    checker = SignatureChecker(SECRET, max_remembered=2)

    def check(raw: bytes, at: float) -> str | None:
        return checker.check(*signed_headers(SECRET, raw, now=at).values(), raw, at)

    assert [check(RAW, now), check(RAW + b" ", now)] == [None, None]
    third = check(RAW + b"  ", now)
    assert third and "too many signed requests" in third  # never evicts a live entry
    assert len(checker._seen) == 2
    assert check(RAW + b"  ", now + 301) is None  # the first two have expired by then


# --- credentials, conversation ids, settings ----------------------------------------------------------


def test_tokens_are_named_or_get_a_name_derived_from_them() -> None:
    credentials = parse_tokens(" alice:tok-1 , tok-2,,bridge:a:b ")
    assert credentials == (
        Credential("alice", "tok-1"),
        Credential("t" + hashlib.sha256(b"tok-2").hexdigest()[:10], "tok-2"),
        Credential("bridge", "a:b"),
    )
    assert derived_name("tok-2") == credentials[1].name
    assert parse_tokens("alice:old,alice:new")[1].name == "alice"  # rotation keeps the conversations
    assert parse_tokens("") == ()
    assert "tok-1" not in repr(credentials) and "tok-1" not in repr(IntranetSettings(credentials=credentials))


@pytest.mark.parametrize(
    "value",
    [
        "hmac:SeCrEt",
        "bad name:SeCrEt",
        "t0123456789:SeCrEt",
        ":SeCrEt",
        "alice:",
        "alice: SeCrEt",
        "a:SeCrEt,b:SeCrEt",
        "SeCrEt,SeCrEt",
        "-x:SeCrEt",
        "a" * 33 + ":SeCrEt",
    ],
)
def test_malformed_token_lists_are_refused_without_showing_the_token(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_tokens(value)
    assert "entry" in str(caught.value) and "SeCrEt" not in str(caught.value)


def test_the_bridge_takes_the_token_of_the_first_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_RASA_TOKEN", raising=False)
    monkeypatch.setenv("INTRANET_TOKENS", "telegram:tok-1,tok-2")
    assert TelegramSettings().rasa_token == "tok-1"
    assert first_token(" tok-3 , x:tok-4") == "tok-3"
    monkeypatch.setenv("TELEGRAM_RASA_TOKEN", "own")
    assert TelegramSettings().rasa_token == "own"
    assert "own" not in repr(TelegramSettings())


def test_credentials_are_matched_to_their_name() -> None:
    credentials = parse_tokens("alice:tok-a,tok-b")
    assert credential_for("tok-a", credentials) == "alice"
    assert credential_for("tok-b", credentials) == derived_name("tok-b")
    assert credential_for("tok-a ", credentials) is None
    assert credential_for("\udcff", credentials) is None  # sanic's surrogate-escaped header bytes
    auth = Authenticator(credentials, SignatureChecker(SECRET))
    assert auth.from_headers("Bearer tok-a", None, None).credential == "alice"
    assert auth.from_headers("Bearer nope", None, None).reason == "invalid token"
    assert "missing credentials" in auth.from_headers(None, None, None).reason
    headers = signed_headers(SECRET, RAW)
    pending = auth.from_headers(None, headers["X-Intranet-Timestamp"], headers["X-Intranet-Signature"])
    assert pending.credential is None and pending.reason is None
    signed = auth.with_body(
        headers["X-Intranet-Timestamp"], headers["X-Intranet-Signature"], RAW, time.time()
    )
    assert signed.credential == "hmac"
    assert Authenticator(credentials).from_headers(None, "1", "x").reason == "signed requests are not enabled"


@IN_PROCESS
@given(
    a=st.tuples(st.from_regex(CREDENTIAL_NAME, fullmatch=True), st.text(max_size=20)),
    b=st.tuples(st.from_regex(CREDENTIAL_NAME, fullmatch=True), st.text(max_size=20)),
)
def test_no_two_credentials_share_a_conversation(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert (conversation_id(*a) == conversation_id(*b)) == (a == b)


def test_frame_ancestors_are_checked() -> None:
    assert parse_frame_ancestors("") == "'self'"
    assert parse_frame_ancestors("'self', https://portal.intranet.example https://*.corp:8443") == (
        "'self' https://portal.intranet.example https://*.corp:8443"
    )
    for bad in ("https://x; script-src *", "'unsafe-inline'", "javascript:alert(1)", "*", "https://a/path"):
        with pytest.raises(ValueError):
            parse_frame_ancestors(bad)


# --- client addresses and limits ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("10.1.2.3", "198.51.100.9", LOOPBACK, "10.1.2.3"),  # not from a proxy: the header is ignored
        ("127.0.0.1", "198.51.100.9", LOOPBACK, "198.51.100.9"),
        ("127.0.0.1", "6.6.6.6, 198.51.100.9", LOOPBACK, "198.51.100.9"),  # the client's own prefix
        ("127.0.0.1", "198.51.100.9, 127.0.0.1", LOOPBACK, "198.51.100.9"),  # two proxies
        ("127.0.0.1", "garbage", LOOPBACK, "127.0.0.1"),
        ("127.0.0.1", None, LOOPBACK, "127.0.0.1"),
        ("127.0.0.1", "198.51.100.9", (), "127.0.0.1"),  # INTRANET_TRUSTED_PROXIES=none
        ("::1", "2001:db8:1:2:3:4:5:6", LOOPBACK, "2001:db8:1:2::/64"),
        ("::1", "[2001:db8:1:2::9]:4711", LOOPBACK, "2001:db8:1:2::/64"),
        ("::ffff:10.0.0.1", None, (), "10.0.0.1"),
        ("", None, LOOPBACK, "unknown"),
    ],
)
def test_client_address(peer: str, forwarded: str | None, trusted: tuple, expected: str) -> None:
    assert client_address(peer, forwarded, trusted) == expected


@IN_PROCESS
@given(
    peer=st.one_of(st.text(max_size=40), st.ip_addresses().map(str)),
    forwarded=st.none() | st.text(max_size=80),
)
def test_client_address_never_raises(peer: str, forwarded: str | None) -> None:
    assert client_address(peer, forwarded, LOOPBACK)


def limits(clock: list[float], **burst: int) -> IntranetLimits:
    def bucket(name: str, default: int) -> RateLimiter:
        return RateLimiter(per_minute=60, burst=burst.get(name, default), clock=lambda: clock[0])

    return IntranetLimits(
        failures=bucket("failures", 10),
        per_credential=bucket("credential", 100),
        per_address=bucket("address", 100),
        per_conversation=bucket("conversation", 3),
    )


def test_rotating_sender_ids_does_not_escape_the_credentials_limit() -> None:
    now = [0.0]
    gate = limits(now, credential=5)
    admitted = [gate.admit("bridge", "10.0.0.1", conversation_id("bridge", f"s{i}")) for i in range(6)]
    assert admitted[:5] == [None] * 5
    assert admitted[5] and admitted[5].scope == "messages with this credential"
    assert gate.admit("other", "10.0.0.1", "other:s0") is None  # another credential is not affected


def test_one_address_is_limited_across_credentials() -> None:
    now = [0.0]
    gate = limits(now, address=3)
    assert [gate.admit(f"c{i}", "10.0.0.1", f"c{i}:s") for i in range(3)] == [None] * 3
    refusal = gate.admit("c9", "10.0.0.1", "c9:s")
    assert (
        refusal
        and refusal.scope == "messages from this address"
        and refusal.retry_after_s == pytest.approx(1.0)
    )
    assert gate.admit("c9", "10.0.0.2", "c9:s") is None


def test_a_refused_message_costs_none_of_its_buckets() -> None:
    now = [0.0]
    gate = limits(now, conversation=1, credential=2)
    assert gate.admit("a", "ip", "a:x") is None
    assert gate.admit("a", "ip", "a:x").scope == "messages from this sender"
    assert gate.admit("a", "ip", "a:y") is None  # the refusal above took nothing from "a"
    # Another credential's sender of the same name is another conversation: never throttled by "a".
    assert gate.admit("b", "ip", "b:x") is None


def test_failed_authentication_is_throttled_per_address() -> None:
    now = [0.0]
    gate = limits(now)
    exhausted = [gate.auth_failed("10.0.0.1") for _ in range(10)]
    assert exhausted == [False] * 9 + [True]  # one log line, when the budget runs out
    blocked = gate.auth_blocked("10.0.0.1")
    assert blocked and blocked.retry_after_s == pytest.approx(1.0)  # 60 per minute in this test
    assert gate.auth_blocked("10.0.0.2") is None
    now[0] += 1.0
    assert gate.auth_blocked("10.0.0.1") is None


def test_limits_keep_memory_bounded() -> None:
    limiter = RateLimiter(per_minute=1, burst=1, max_keys=100)
    for i in range(5000):
        limiter.acquire(f"sender-{i}")
    assert len(limiter._buckets) == 100


# --- properties in process ----------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
JSON = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=12,
)
ODD_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "\u3000",
        "\t\n",
        "a\x00b",
        "a\x85",
        "\ud800",
        "x\udfffy",
        "x" * 128,
        "x" * 129,
        "长" * 1366,
        "长" * 1365,
    ]
)
CLEAN_SENDERS = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zs")), min_size=1, max_size=128)


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, `weight` times in `sum of weights` (one_of alone favours the recursive ones)."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(lambda s: s)


SENDERS = weighted((6, CLEAN_SENDERS), (1, st.text(max_size=140)), (1, ODD_STRINGS), (1, JSON))
METADATA = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=6), JSON, max_size=4),
    JSON,
    st.integers(1, 12).map(depth_nested),
    st.dictionaries(st.text(max_size=4), ODD_STRINGS, max_size=2),
)


def inbound_like(messages: st.SearchStrategy) -> st.SearchStrategy:
    """Bodies shaped like the contract's, mostly with both fields (and so often valid), or not."""
    fields = {"sender": SENDERS, "message": messages}
    optional = {"metadata": METADATA, "extra": JSON}
    return st.one_of(
        st.fixed_dictionaries(fields, optional=optional),
        st.fixed_dictionaries(fields, optional=optional),
        st.fixed_dictionaries({}, optional={**fields, **optional}),
    )


INBOUND_LIKE = inbound_like(
    st.one_of(st.text(min_size=1, max_size=60), st.text(max_size=60), ODD_STRINGS, JSON)
)


def _lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    return isinstance(value, list) and any(_lone_surrogate(v) for v in value)


def server_should_accept(data: Any) -> bool:
    """The contract: what the published schema accepts, less what JSON Schema cannot say
    (4096 bytes of UTF-8, lone surrogates); 413 and surrogates are checked apart."""
    if request_errors(data):
        return False
    message = data["message"]
    fields = [data.get(k) for k in ("sender", "message", "metadata")]
    return len(message.encode("utf-8", "surrogatepass")) <= MAX_MESSAGE_BYTES and not _lone_surrogate(fields)


@IN_PROCESS
@given(data=st.one_of(INBOUND_LIKE, JSON))
def test_parse_inbound_accepts_exactly_what_the_schema_accepts(data: Any) -> None:
    raw = json.dumps(data).encode()  # ASCII escapes: lone surrogates travel as \ud800
    try:
        parse_inbound(raw)
        accepted = True
    except PayloadError as exc:
        assert exc.status in (400, 413)
        accepted = False
        if exc.status == 413:
            assert len(data["message"].encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES
    assert accepted == server_should_accept(data), raw[:300]


@IN_PROCESS
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_parse_inbound_refuses_any_garbage_with_a_4xx(raw: bytes) -> None:
    try:
        parse_inbound(raw)
    except PayloadError as exc:
        assert exc.status in (400, 413)


RESPELLINGS = st.tuples(
    st.sampled_from(["", " ", "\t", "\u00a0", "\n", "\u2003", "\x00", "\ufeff"]),
    st.sampled_from(["", " ", "\t", "\u00a0", "\r\n", "\u200b"]),
    st.sampled_from([str, str.upper, str.swapcase, str.title]),
)


@IN_PROCESS
@given(
    respellings=st.lists(RESPELLINGS, max_size=6),
    timestamp=st.one_of(st.none(), st.text(max_size=14)),
    garbage=st.one_of(st.none(), st.text(max_size=80)),
)
def test_a_signature_is_accepted_at_most_once_and_nothing_raises(
    respellings: list[tuple], timestamp: str | None, garbage: str | None
) -> None:
    now = 1_700_000_000
    checker = SignatureChecker(SECRET)
    headers = signed_headers(SECRET, RAW, now=now)
    ts, sig = headers["X-Intranet-Timestamp"], headers["X-Intranet-Signature"]
    attempts = [before + change(sig) + after for before, after, change in respellings] + [sig]
    accepted = [a for a in attempts if checker.check(ts, a, RAW, now) is None]
    assert len(accepted) == 1
    reason = checker.check(timestamp, garbage, RAW, now)
    assert reason is None or isinstance(reason, str)


# --- end to end -------------------------------------------------------------------------------------


# The names tests/conftest.py gives its tokens (a bare token's name is derived from the token).
CONFTEST_NAMES = ("test", "bridge")


@pytest.fixture(scope="module")
def names(rasa: RasaServer) -> dict[str, str]:
    """Each test token's credential name, found as a caller would: by where its message landed."""
    found = {}
    for token in rasa.intranet_tokens:
        sender = new_sender()
        assert rasa.intranet(body("hello", sender), token=token).status_code == 200
        candidates = {*CONFTEST_NAMES, derived_name(token)}
        landed = [n for n in candidates if user_events(rasa, conversation_id(n, sender))]
        assert len(landed) == 1, landed
        found[token] = landed[0]
    return found


def conversation(names: dict[str, str], rasa: RasaServer, sender: str, token_index: int = 0) -> str:
    return conversation_id(names[rasa.intranet_tokens[token_index]], sender)


@pytest.mark.servers
def test_good_token_gets_the_rest_channels_reply(rasa: RasaServer, names: dict[str, str]) -> None:
    sender = new_sender()
    reply = rasa.intranet(body("hello", sender, metadata={"department": "research"}))
    assert reply.status_code == 200, reply.text
    assert_conforms(reply)
    assert [m["text"] for m in reply.json()] == [greeting("en")]
    assert [m["recipient_id"] for m in reply.json()] == [sender]  # as sent, not the namespaced id
    # Same words as Rasa's own REST channel gives for the same message.
    assert rasa.texts(new_sender(), "hello") == [greeting("en")]
    # The metadata reaches the tracker with the message, in the credential's namespace only.
    (event,) = user_events(rasa, conversation(names, rasa, sender))
    assert event["metadata"]["department"] == "research"
    assert event["input_channel"] == "intranet"
    assert user_events(rasa, sender) == []


@pytest.mark.servers
def test_the_second_service_token_works_too(rasa: RasaServer) -> None:
    reply = rasa.intranet(body("你好"), token=rasa.intranet_tokens[1])
    assert reply.status_code == 200
    assert [m["text"] for m in reply.json()] == [greeting("zh")]


@pytest.mark.servers
def test_conversations_are_namespaced_by_credential(rasa: RasaServer, names: dict[str, str]) -> None:
    """Two token holders using the same sender id: neither writes into, resets or throttles the other's."""
    sender, first, second = new_sender(), rasa.intranet_tokens[0], rasa.intranet_tokens[1]
    assert rasa.intranet(body("hello", sender), token=first).status_code == 200
    other = rasa.intranet(body("你好", sender), token=second)
    assert other.status_code == 200 and [m["recipient_id"] for m in other.json()] == [sender]
    mine, theirs = conversation(names, rasa, sender, 0), conversation(names, rasa, sender, 1)
    assert mine != theirs
    assert [e["text"] for e in user_events(rasa, mine)] == ["hello"]
    assert [e["text"] for e in user_events(rasa, theirs)] == ["你好"]
    # The second holder resets "its" conversation and floods it: the first one's is untouched.
    assert rasa.intranet(body("/restart", sender), token=second).status_code == 200
    with ThreadPoolExecutor(max_workers=8) as pool:
        flood = list(
            pool.map(lambda _: rasa.intranet(body("hi", sender), token=second).status_code, range(16))
        )
    assert 429 in flood
    assert rasa.intranet(body("hello", sender), token=first).status_code == 200
    events = rasa.tracker(mine)["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["hello", "hello"]
    assert not [e for e in events if e["event"] == "restart"]


@pytest.mark.servers
@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing credentials"),
        ({"Authorization": "Bearer wrong-token"}, "invalid token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing credentials"),
        ({"Authorization": "Bearer "}, "missing credentials"),
        ({"Authorization": b"Bearer \xff\xfe"}, "invalid token"),  # not UTF-8: used to be a 500
    ],
)
def test_missing_or_wrong_token_is_refused_before_rasa(
    rasa: RasaServer, names: dict[str, str], headers: dict, reason: str
) -> None:
    sender = new_sender()
    reply = rasa.intranet(body("hello", sender), headers=as_client(**headers))
    assert reply.status_code == 401
    assert_conforms(reply)
    assert reply.json()["error"] == "unauthorized" and reason in reply.json()["message"]
    assert all(user_events(rasa, conversation_id(n, sender)) == [] for n in {*names.values(), "hmac"})


@pytest.mark.servers
def test_signed_request_is_accepted_once(rasa: RasaServer) -> None:
    sender, client = new_sender(), new_client()
    raw = body("hello", sender)
    headers = signed_headers(rasa.hmac_secret, raw)
    reply = rasa.intranet(raw, headers=as_client(client, **headers))
    assert reply.status_code == 200, reply.text
    assert [m["text"] for m in reply.json()] == [greeting("en")]
    assert [m["recipient_id"] for m in reply.json()] == [sender]
    replayed = rasa.intranet(raw, headers=as_client(client, **headers))
    assert replayed.status_code == 401 and "replayed" in replayed.json()["message"]
    assert_conforms(replayed)
    assert len(user_events(rasa, conversation_id("hmac", sender))) == 1


@pytest.mark.servers
def test_a_signature_cannot_be_replayed_by_respelling_it(rasa: RasaServer) -> None:
    sender, client = new_sender(), new_client()
    raw = body("hello", sender)
    headers = signed_headers(rasa.hmac_secret, raw)
    signature = headers["X-Intranet-Signature"]
    assert rasa.intranet(raw, headers=as_client(client, **headers)).status_code == 200
    # requests would strip a trailing space itself; bytes go out as they are.
    for respelled in (
        signature.encode() + b" ",
        signature.encode() + b"\t",
        signature.encode() + b"\xc2\xa0",
        signature.encode() + b"\xa0",
        signature.upper().encode(),
    ):
        reply = rasa.intranet(
            raw, headers=as_client(client, **{**headers, "X-Intranet-Signature": respelled})
        )
        assert reply.status_code == 401, (respelled, reply.text)
        assert_conforms(reply)
    assert len(user_events(rasa, conversation_id("hmac", sender))) == 1


@pytest.mark.servers
@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [
        (lambda secret, raw: signed_headers("not-the-secret", raw), "bad signature"),
        (lambda secret, raw: signed_headers(secret, raw + b" "), "bad signature"),
        (
            lambda secret, raw: signed_headers(secret, raw, now=time.time() - 3600),
            "outside the replay window",
        ),
        (
            lambda secret, raw: signed_headers(secret, raw, now=time.time() + 3600),
            "outside the replay window",
        ),
        (
            lambda secret, raw: {**signed_headers(secret, raw), "X-Intranet-Timestamp": "soon"},
            "bad timestamp",
        ),
        (
            lambda secret, raw: {**signed_headers(secret, raw), "X-Intranet-Timestamp": "²".encode()},
            "bad timestamp",
        ),
        (
            lambda secret, raw: {
                **signed_headers(secret, raw),
                "X-Intranet-Timestamp": "١٧٠٠٠٠٠٠٠٠".encode(),
            },
            "bad timestamp",
        ),
        (
            lambda secret, raw: {"X-Intranet-Signature": signed_headers(secret, raw)["X-Intranet-Signature"]},
            "missing signature headers",
        ),
        (
            lambda secret, raw: {**signed_headers(secret, raw), "X-Intranet-Signature": "sha256=" + "g" * 64},
            "bad signature format",
        ),
    ],
    ids=[
        "wrong-secret",
        "tampered-body",
        "expired",
        "future",
        "bad-timestamp",
        "superscript-two",
        "arabic-indic-digits",
        "no-timestamp",
        "not-hex",
    ],
)
def test_bad_signatures_are_refused(rasa: RasaServer, make_headers, reason: str) -> None:
    sender = new_sender()
    raw = body("hello", sender)
    reply = rasa.intranet(raw, headers=as_client(**make_headers(rasa.hmac_secret, raw)))
    assert reply.status_code == 401, reply.text
    assert reason in reply.json()["message"]
    assert_conforms(reply)
    assert user_events(rasa, conversation_id("hmac", sender)) == []


@pytest.mark.servers
def test_failed_authentication_is_throttled_per_client_address(rasa: RasaServer) -> None:
    guesser, neighbour = new_client(), new_client()
    guesses = [
        rasa.intranet(body(), headers=as_client(guesser, Authorization=f"Bearer guess-{i}"))
        for i in range(10)
    ]
    assert [r.status_code for r in guesses] == [401] * 10
    throttled = rasa.intranet(body(), headers=as_client(guesser, Authorization="Bearer guess-11"))
    assert throttled.status_code == 429 and throttled.json()["error"] == "rate_limited", throttled.text
    assert_conforms(throttled)
    retry_after = int(throttled.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    # Until then, nothing from that address is looked at, not even a valid token or signature
    # (so a signed request sent meanwhile is not spent either).
    valid = rasa.intranet(body(), token=rasa.intranet_tokens[0], headers=as_client(guesser))
    assert valid.status_code == 429
    raw = body("hello")
    signed = signed_headers(rasa.hmac_secret, raw)
    assert rasa.intranet(raw, headers=as_client(guesser, **signed)).status_code == 429
    assert (
        rasa.intranet(body(), token=rasa.intranet_tokens[0], headers=as_client(neighbour)).status_code == 200
    )
    time.sleep(retry_after + 0.5)
    assert rasa.intranet(raw, headers=as_client(guesser, **signed)).status_code == 200


LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def has_infinity(value: object) -> bool:
    if isinstance(value, float):
        return math.isinf(value)
    if isinstance(value, dict):
        return any(has_infinity(item) for item in value.values())
    if isinstance(value, list):
        return any(has_infinity(item) for item in value)
    return False


@pytest.mark.servers
@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        *BAD_BODIES,
        (b'"just a string"', 400, "invalid_json"),
        (b'{"message": "hello"}', 400, "missing_field"),
        # Only the server sees the whole body's size.
        (
            json.dumps({"sender": "a", "message": "hello", "metadata": {"pad": "x" * 20_000}}).encode(),
            413,
            "body_too_large",
        ),
    ],
)
def test_bad_bodies_get_a_clear_error(rasa: RasaServer, raw: bytes, status: int, code: str) -> None:
    reply = rasa.intranet(raw)
    assert (reply.status_code, reply.json()["error"]) == (status, code), reply.text
    assert reply.json()["message"]
    assert_conforms(reply)
    # What the server refuses with 400, the published schema refuses too (413s are size limits;
    # lone surrogates and numbers beyond a float are beyond what JSON Schema can say; 3,000 levels
    # are beyond jsonschema).
    try:
        parsed = json.loads(raw, parse_constant=not_json)
    except (ValueError, RecursionError):
        return  # not JSON at all (NaN is Python's extension): no schema to compare with
    if status == 400 and not LONE_SURROGATE.search(raw) and not has_infinity(parsed):
        assert request_errors(parsed), f"the OpenAPI schema accepts a body the server refuses: {raw[:80]!r}"



@pytest.mark.servers
def test_metadata_at_the_depth_limit_reaches_rasa(rasa: RasaServer, names: dict[str, str]) -> None:
    sender = new_sender()
    reply = rasa.intranet(body("hello", sender, metadata=depth_nested(8)))
    assert reply.status_code == 200, reply.text
    (event,) = user_events(rasa, conversation(names, rasa, sender))
    assert event["metadata"]["k"] == depth_nested(8)["k"]  # Rasa adds its own keys beside it


@pytest.mark.servers
def test_oversized_body_is_refused_even_without_content_length(rasa: RasaServer) -> None:
    chunks = (b'{"sender": "a", "message": "' + b"x" * 4096 for _ in range(8))  # chunked upload
    reply = requests.post(
        rasa.intranet_url,
        data=chunks,
        timeout=30,
        headers={"Authorization": f"Bearer {rasa.intranet_tokens[0]}"},
    )
    assert reply.status_code == 413 and reply.json()["error"] == "body_too_large"


def raw_response(rasa: RasaServer, request: bytes) -> bytes:
    """The server's answer to a hand-written request (no client tidies it up); it closes after."""
    host, port = rasa.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
    return answer


@pytest.mark.servers
@pytest.mark.parametrize("length", ["²".encode(), "١٢".encode(), b"0x2", b"-2"])
def test_a_content_length_that_is_not_ascii_digits_is_a_400(rasa: RasaServer, length: bytes) -> None:
    """Sanic read it with int(): "²" was a 500 before any route ran; "١٢" was taken for 12."""
    head = (
        b"POST /webhooks/intranet/webhook HTTP/1.1\r\nHost: rasa\r\nConnection: close\r\n"
        + f"Authorization: Bearer {rasa.intranet_tokens[0]}\r\n".encode()
    )
    refused = raw_response(rasa, head + b"Content-Length: " + length + b"\r\n\r\n{}")
    assert refused.startswith(b"HTTP/1.1 400"), refused[:200]
    # Spaces around ASCII digits are fine: the body is read, and the channel says what is wrong with it.
    read = raw_response(rasa, head + b"Content-Length:  2 \r\n\r\n{}")
    assert read.startswith(b"HTTP/1.1 400") and b"missing_field" in read, read[:300]


@pytest.mark.servers
@pytest.mark.parametrize("message", ["你好 😀", "hello 👋🏽", "早上好呀，今天也请多指教 🙏"])
def test_chinese_and_emoji_text_round_trips(rasa: RasaServer, names: dict[str, str], message: str) -> None:
    sender = new_sender()
    reply = rasa.intranet(body(message, sender))
    assert reply.status_code == 200, reply.text
    assert_conforms(reply)
    assert reply.json() and all(m["recipient_id"] == sender for m in reply.json())
    (event,) = user_events(rasa, conversation(names, rasa, sender))
    assert event["text"] == message  # stored exactly as sent, emoji and all


@pytest.mark.servers
def test_a_flooding_sender_gets_429_and_others_are_served(rasa: RasaServer, names: dict[str, str]) -> None:
    flooder = new_sender()
    with ThreadPoolExecutor(max_workers=20) as pool:  # a real flood: all at once
        replies = list(pool.map(lambda _: rasa.intranet(body("hello", flooder)), range(20)))
    statuses = [r.status_code for r in replies]
    assert set(statuses) == {200, 429} and statuses.count(200) <= 11, statuses  # burst 10 (+ refill)
    limited = next(r for r in replies if r.status_code == 429)
    assert limited.json()["error"] == "rate_limited"
    assert_conforms(limited)
    assert int(limited.headers["Retry-After"]) >= 1
    # limited messages never reached Rasa
    assert len(user_events(rasa, conversation(names, rasa, flooder))) == statuses.count(200)
    assert rasa.intranet(body("hello")).status_code == 200


@pytest.mark.servers
def test_answers_carry_their_sources_as_data(rasa: RasaServer) -> None:
    reply = rasa.intranet(body("What does ROUGE-N measure?"), timeout_s=120)
    assert reply.status_code == 200, reply.text
    assert_conforms(reply)
    sources = [s for m in reply.json() for s in (m.get("custom") or {}).get("sources", [])]
    assert sources, reply.json()
    for source in sources:
        assert source["file"] in NOTE_FILES, source
        assert source["url"].startswith("http://127.0.0.1:9/notes/" + source["file"]), source
    text = "\n".join(m.get("text", "") for m in reply.json())
    assert all(s["file"] in text for s in sources)  # the same sources the text names


def policy(header: str) -> dict[str, list[str]]:
    directives = [d.split() for d in header.split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


@pytest.mark.servers
def test_health_chat_page_and_contract_are_served(rasa: RasaServer) -> None:
    health = requests.get(f"{rasa.url}/webhooks/intranet/", timeout=10)
    assert health.json() == {"status": "ok"}
    assert_conforms(health, "get")
    page = requests.get(f"{rasa.url}/webhooks/intranet/chat", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert_conforms(page, "get")
    # No external assets: nothing loaded from another origin.
    for marker in ('src="http', "src='http", 'href="http', "@import", "url(http", "//cdn"):
        assert marker not in page.text
    spec = requests.get(f"{rasa.url}/webhooks/intranet/openapi.yaml", timeout=10)
    assert yaml.safe_load(spec.text)["paths"]["/webhooks/intranet/webhook"]["post"]
    assert_conforms(spec, "get")


def inline_hash(html: str, tag: str) -> str:
    (block,) = re.findall(
        rf"<{tag}>(.*?)</{tag}>", re.sub(r"<!--.*?-->", "", html, flags=re.DOTALL), re.DOTALL
    )
    return "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"


@pytest.mark.servers
def test_every_response_carries_the_security_headers(rasa: RasaServer) -> None:
    page = requests.get(f"{rasa.url}/webhooks/intranet/chat", timeout=10)
    csp = policy(page.headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == [inline_hash(page.text, "script")]  # its own script, by hash
    assert csp["style-src"] == [inline_hash(page.text, "style")]
    assert csp["connect-src"] == ["'self'"] and csp["img-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'self'"] and csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'none'"] and csp["require-trusted-types-for"] == ["'script'"]
    assert "unsafe" not in page.headers["Content-Security-Policy"]
    responses = [
        page,
        requests.get(f"{rasa.url}/webhooks/intranet/", timeout=10),
        requests.get(f"{rasa.url}/webhooks/intranet/openapi.yaml", timeout=10),
        rasa.intranet(body("hello")),
        rasa.intranet(b"{not json"),
        rasa.intranet(body(), headers=as_client(Authorization="Bearer nope")),
    ]
    for reply in responses:
        assert reply.headers["X-Content-Type-Options"] == "nosniff", reply.url
        assert reply.headers["Referrer-Policy"] == "no-referrer", reply.url
        assert reply.headers["Content-Security-Policy"].startswith("default-src 'none'"), reply.url
    for reply in responses[1:]:  # data: never a document to run or frame
        assert policy(reply.headers["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]
    assert responses[3].headers["Cache-Control"] == "no-store"


# --- fuzzing the real server over the contract --------------------------------------------------------

# Valid messages the fuzzer sends are cheap ones (no LLM answer); the rest of the body varies freely.
CHEAP_MESSAGES = st.sampled_from(["hello", "你好", "hi 👋"])
BAD_MESSAGES = ODD_STRINGS.filter(lambda s: not s.strip() or len(s.encode("utf-8", "surrogatepass")) > 4096)
HEADER_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"), max_size=60
).map(lambda s: s.lstrip().encode("utf-8"))
FUZZ_BODY = inbound_like(weighted((6, CHEAP_MESSAGES), (1, BAD_MESSAGES), (1, JSON)))
CREDENTIAL_HEADERS = ["Authorization", "X-Intranet-Timestamp", "X-Intranet-Signature"]


@st.composite
def webhook_requests(draw: st.DrawFn) -> tuple[bytes, str, dict[str, Any]]:
    """(raw body, how it authenticates, extra headers): JSON or not, in every credential state."""
    shape = draw(st.sampled_from(["inbound", "inbound", "inbound", "json", "bytes", "deep"]))
    if shape == "inbound":
        ascii_only = draw(st.booleans())
        raw = json.dumps(draw(FUZZ_BODY), ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    elif shape == "json":
        raw = json.dumps(draw(JSON)).encode()
    elif shape == "bytes":
        raw = draw(st.binary(max_size=200))
    else:
        depth = draw(st.integers(9, 5000))
        raw = b'{"sender": "a", "message": "hi", "metadata": {"x": ' + b"[" * depth + b"]" * depth + b"}}"
    auth = draw(
        st.sampled_from(
            ["bearer"] * 3 + ["hmac"] * 2 + ["respelled-hmac", "wrong", "garbage", "garbage", "none"]
        )
    )
    # Each example is a client of its own: the failure throttle is not what this test is about.
    headers: dict[str, Any] = {
        "X-Forwarded-For": draw(st.sampled_from(["", "garbage, ", "::1, "])) + new_client()
    }
    if auth == "garbage":
        names = draw(st.sets(st.sampled_from(CREDENTIAL_HEADERS), min_size=1))
        headers.update({name: draw(HEADER_TEXT) for name in sorted(names)})
    return raw, auth, headers


def fuzzed_headers(rasa: RasaServer, raw: bytes, auth: str, headers: dict[str, Any]) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **headers}
    if auth == "bearer":
        headers["Authorization"] = f"Bearer {rasa.intranet_tokens[0]}"
    elif auth == "wrong":
        headers["Authorization"] = "Bearer not-a-token"
    elif auth in ("hmac", "respelled-hmac"):
        headers.update(signed_headers(rasa.hmac_secret, raw))
        if auth == "respelled-hmac":
            headers["X-Intranet-Signature"] = headers["X-Intranet-Signature"].encode() + b"\xc2\xa0"
    return headers


def expected_statuses(raw: bytes, auth: str) -> set[int]:
    if auth not in ("bearer", "hmac"):
        return {401, 413}
    try:
        data = json.loads(raw, parse_constant=not_json)
    except (ValueError, RecursionError):
        return {400, 413}
    if raw.count(b"[") + raw.count(b"{") > 60:  # deeper than jsonschema should be asked to walk
        return {400}
    return {200, 429} if len(raw) <= 16384 and server_should_accept(data) else {400, 413}


@pytest.fixture(scope="module")
def signed_so_far() -> set[str]:
    """Signatures the fuzzer has sent: the same body in the same second is a replay (401)."""
    return set()


@pytest.mark.servers
@AGAINST_SERVER
@given(request=webhook_requests())
def test_fuzzed_requests_get_a_documented_answer_never_a_5xx(
    rasa: RasaServer, signed_so_far: set[str], request: tuple[bytes, str, dict[str, Any]]
) -> None:
    raw, auth, extra = request
    headers = fuzzed_headers(rasa, raw, auth, extra)
    expected = expected_statuses(raw, auth)
    if auth == "hmac" and headers["X-Intranet-Signature"] in signed_so_far:
        expected = {401}
    signed_so_far.add(str(headers.get("X-Intranet-Signature")))
    reply = requests.post(rasa.intranet_url, data=raw, headers=headers, timeout=60)
    assert reply.status_code < 500, (reply.status_code, reply.text[:300], raw[:200])
    assert reply.status_code in expected, (reply.status_code, reply.text[:300], raw[:200], auth)
    assert_conforms(reply)
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
