"""The intranet webhook (channels/intranet.py) end to end through the real Rasa and action servers.

Every response is also checked against channels/openapi.yaml (tests/openapi_check.py).
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml

from channels.auth import signed_headers
from channels.payload import MAX_MESSAGE_BYTES, PayloadError, parse_inbound
from channels.ratelimit import RateLimiter
from channels.sources import sources_from_text, with_urls
from tests.openapi_check import assert_conforms, request_errors
from tests.servers import ROOT, RasaServer

NOTE_FILES = {p.name for p in (ROOT / "notes").glob("*.md")}


def greeting(lang: str) -> str:
    variations = yaml.safe_load(Path(ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"][
        "utter_greet"
    ]
    english = [v["text"] for v in variations if any(c.get("value") == "en" for c in v.get("condition", []))]
    plain = [v["text"] for v in variations if not v.get("condition")]
    return (english if lang == "en" else plain)[0]


def new_sender() -> str:
    return f"intranet-{uuid.uuid4().hex[:10]}"


def body(message: str = "hello", sender: str | None = None, **extra: object) -> bytes:
    return json.dumps(
        {"sender": sender or new_sender(), "message": message, **extra}, ensure_ascii=False
    ).encode()


def user_events(rasa: RasaServer, sender: str) -> list[dict]:
    tracker = requests.get(f"{rasa.url}/conversations/{sender}/tracker", timeout=10).json()
    return [e for e in tracker.get("events") or [] if e["event"] == "user"]


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
    assert limiter.acquire("a") == pytest.approx(1.0)
    now[0] += 1.0
    assert limiter.acquire("a") == 0
    limiter.acquire("b")
    limiter.acquire("c")  # evicts "a", the least recently seen
    assert "a" not in limiter._buckets and len(limiter._buckets) == 2


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
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
    ],
)
def test_payload_errors(raw: bytes, status: int, code: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_inbound(raw)
    assert (caught.value.status, caught.value.code) == (status, code)


# --- end to end -------------------------------------------------------------------------------------


@pytest.mark.servers
def test_good_token_gets_the_rest_channels_reply(rasa: RasaServer) -> None:
    sender = new_sender()
    reply = rasa.intranet(body("hello", sender, metadata={"department": "research"}))
    assert reply.status_code == 200, reply.text
    assert_conforms(reply)
    assert [m["text"] for m in reply.json()] == [greeting("en")]
    assert [m["recipient_id"] for m in reply.json()] == [sender]
    # Same words as Rasa's own REST channel gives for the same message.
    assert rasa.texts(new_sender(), "hello") == [greeting("en")]
    # The metadata reaches the tracker with the message.
    (event,) = user_events(rasa, sender)
    assert event["metadata"]["department"] == "research"
    assert event["input_channel"] == "intranet"


@pytest.mark.servers
def test_the_second_service_token_works_too(rasa: RasaServer) -> None:
    reply = rasa.intranet(body("你好"), token=rasa.intranet_tokens[1])
    assert reply.status_code == 200
    assert [m["text"] for m in reply.json()] == [greeting("zh")]


@pytest.mark.servers
@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing credentials"),
        ({"Authorization": "Bearer wrong-token"}, "invalid token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing credentials"),
        ({"Authorization": "Bearer "}, "missing credentials"),
    ],
)
def test_missing_or_wrong_token_is_refused_before_rasa(rasa: RasaServer, headers: dict, reason: str) -> None:
    sender = new_sender()
    reply = rasa.intranet(body("hello", sender), headers=headers)
    assert reply.status_code == 401
    assert_conforms(reply)
    assert reply.json()["error"] == "unauthorized" and reason in reply.json()["message"]
    assert user_events(rasa, sender) == []


@pytest.mark.servers
def test_signed_request_is_accepted_once(rasa: RasaServer) -> None:
    sender = new_sender()
    raw = body("hello", sender)
    headers = signed_headers(rasa.hmac_secret, raw)
    reply = rasa.intranet(raw, headers=headers)
    assert reply.status_code == 200, reply.text
    assert [m["text"] for m in reply.json()] == [greeting("en")]
    replayed = rasa.intranet(raw, headers=headers)
    assert replayed.status_code == 401 and "replayed" in replayed.json()["message"]
    assert_conforms(replayed)
    assert len(user_events(rasa, sender)) == 1


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
            lambda secret, raw: {"X-Intranet-Signature": signed_headers(secret, raw)["X-Intranet-Signature"]},
            "missing signature headers",
        ),
    ],
    ids=["wrong-secret", "tampered-body", "expired", "future", "bad-timestamp", "no-timestamp"],
)
def test_bad_signatures_are_refused(rasa: RasaServer, make_headers, reason: str) -> None:
    sender = new_sender()
    raw = body("hello", sender)
    reply = rasa.intranet(raw, headers=make_headers(rasa.hmac_secret, raw))
    assert reply.status_code == 401
    assert reason in reply.json()["message"]
    assert_conforms(reply)
    assert user_events(rasa, sender) == []


@pytest.mark.servers
@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b'"just a string"', 400, "invalid_json"),
        (b'{"sender": "a"}', 400, "missing_field"),
        (b'{"message": "hello"}', 400, "missing_field"),
        (b'{"sender": "a", "message": 42}', 400, "invalid_field"),
        (b'{"sender": "a", "message": ["hello"]}', 400, "invalid_field"),
        (b'{"sender": "a", "message": "hello", "metadata": "x"}', 400, "invalid_field"),
        (json.dumps({"sender": "a", "message": "长" * 1400}).encode(), 413, "message_too_large"),
        (
            json.dumps({"sender": "a", "message": "hello", "metadata": {"pad": "x" * 20_000}}).encode(),
            413,
            "body_too_large",
        ),
    ],
    ids=[
        "malformed",
        "not-object",
        "no-message",
        "no-sender",
        "number",
        "list",
        "metadata",
        "long-message",
        "oversized-body",
    ],
)
def test_bad_bodies_get_a_clear_error(rasa: RasaServer, raw: bytes, status: int, code: str) -> None:
    reply = rasa.intranet(raw)
    assert (reply.status_code, reply.json()["error"]) == (status, code), reply.text
    assert reply.json()["message"]
    assert_conforms(reply)
    # What the server refuses with 400, the published schema refuses too (413s are size limits).
    try:
        parsed = json.loads(raw)
    except ValueError:
        return
    if status == 400:
        assert request_errors(parsed), f"the OpenAPI schema accepts a body the server refuses: {raw[:80]!r}"


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


@pytest.mark.servers
@pytest.mark.parametrize("message", ["你好 😀", "hello 👋🏽", "早上好呀，今天也请多指教 🙏"])
def test_chinese_and_emoji_text_round_trips(rasa: RasaServer, message: str) -> None:
    sender = new_sender()
    reply = rasa.intranet(body(message, sender))
    assert reply.status_code == 200, reply.text
    assert_conforms(reply)
    assert reply.json() and all(m["recipient_id"] == sender for m in reply.json())
    (event,) = user_events(rasa, sender)
    assert event["text"] == message  # stored exactly as sent, emoji and all


@pytest.mark.servers
def test_a_flooding_sender_gets_429_and_others_are_served(rasa: RasaServer) -> None:
    flooder = new_sender()
    with ThreadPoolExecutor(max_workers=20) as pool:  # a real flood: all at once
        replies = list(pool.map(lambda _: rasa.intranet(body("hello", flooder)), range(20)))
    statuses = [r.status_code for r in replies]
    assert set(statuses) == {200, 429} and statuses.count(200) <= 11, statuses  # burst 10 (+ refill)
    limited = next(r for r in replies if r.status_code == 429)
    assert limited.json()["error"] == "rate_limited"
    assert_conforms(limited)
    assert int(limited.headers["Retry-After"]) >= 1
    assert len(user_events(rasa, flooder)) == statuses.count(200)  # limited messages never reached Rasa
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


@pytest.mark.servers
def test_health_chat_page_and_contract_are_served(rasa: RasaServer) -> None:
    health = requests.get(f"{rasa.url}/webhooks/intranet/", timeout=10)
    assert health.json() == {"status": "ok"}
    assert_conforms(health, "get")
    page = requests.get(f"{rasa.url}/webhooks/intranet/chat", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # No external assets: nothing loaded from another origin.
    for marker in ('src="http', "src='http", 'href="http', "@import", "url(http", "//cdn"):
        assert marker not in page.text
    spec = requests.get(f"{rasa.url}/webhooks/intranet/openapi.yaml", timeout=10)
    assert yaml.safe_load(spec.text)["paths"]["/webhooks/intranet/webhook"]["post"]
