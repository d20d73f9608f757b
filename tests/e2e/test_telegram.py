"""The Telegram bridge (channels/telegram_bridge.py) against a fake Bot API on loopback, end to end
through the intranet channel of the real Rasa server and the real action server."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from channels.telegram_format import CallbackStore, keyboard, split_text, utf16_len
from llm_fallback.text.replies import say
from tests.fake_bot_api import FakeBotApi
from tests.servers import RasaServer, free_port, http_ok, rasa_server, telegram_bridge

ALLOWED_USERS = range(1001, 1020)
GROUP = -100500
JOIN_GROUP = -100501


def rasa_says(rasa: RasaServer, message: str) -> list[dict[str, Any]]:
    """Rasa's replies to `message` from a new conversation, asked directly on the intranet webhook."""
    reply = rasa.intranet({"sender": f"direct-{uuid.uuid4().hex[:10]}", "message": message})
    reply.raise_for_status()
    return reply.json()


def first_text(rasa: RasaServer, message: str) -> str:
    return rasa_says(rasa, message)[0]["text"]


def tracker_events(rasa: RasaServer, chat_id: int) -> list[dict]:
    # The intranet channel keeps a caller's conversations under its credential's name (conftest
    # names the bridge's token "bridge"): `<credential>:<sender>`.
    return rasa.tracker(f"bridge:telegram-{chat_id}").get("events") or []


def user_messages(rasa: RasaServer, chat_id: int) -> list[dict]:
    # Asking for a tracker starts a session in it, so only user events tell whether a message came.
    return [e for e in tracker_events(rasa, chat_id) if e["event"] == "user"]


def bridge_env(api: FakeBotApi, rasa_url: str, rasa_token: str, **extra: str) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "TELEGRAM_ALLOWED_IDS": ",".join(map(str, [*ALLOWED_USERS, GROUP, JOIN_GROUP])),
        "RASA_URL": rasa_url,
        "TELEGRAM_RASA_TOKEN": rasa_token,
        "TELEGRAM_POLL_TIMEOUT_S": "2",
        **extra,
    }


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    fake = FakeBotApi(token=f"{uuid.uuid4().int % 10**9}:{secrets.token_urlsafe(12)}").start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def polling(rasa: RasaServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeBotApi, Path]]:
    """One bridge in long-polling mode for the module, with Telegram's own length limit."""
    fake = FakeBotApi().start()
    env = bridge_env(fake, rasa.url, rasa.intranet_tokens[1])
    # Ready once it polls: getMe and deleteWebhook come first, then the getUpdates loop.
    ready = lambda: bool(fake.calls_of("deleteWebhook"))  # noqa: E731
    with telegram_bridge(tmp_path_factory.mktemp("bridge"), env, ready, "polling") as log:
        yield fake, log
    fake.stop()


def texts(api: FakeBotApi, chat_id: int) -> list[str]:
    return [c.params["text"] for c in api.sent(chat_id)]


# --- formatting, no servers ---------------------------------------------------------------------


def test_split_respects_telegrams_limit_in_utf16_units() -> None:
    paragraph = "量化把权重从 fp16 压到 int4，显存约为原来的四分之一 🚀。" * 20
    text = "\n\n".join([paragraph] * 12)
    parts = split_text(text, 4096)
    assert len(parts) > 1
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    assert split_text("x" * 10_000, 4096) == ["x" * 4096, "x" * 4096, "x" * 1808]
    assert split_text("  short  ") == ["short"]


def test_buttons_become_an_inline_keyboard_even_with_long_payloads() -> None:
    store = CallbackStore()
    long_payload = '/estimate_vram{"model_size": "70B", "precision": "int4", "train_mode": "qlora"}'
    markup = keyboard(
        [
            {"title": "Yes", "payload": "/affirm"},
            {"title": "70B", "payload": long_payload},
            {"title": "Docs", "url": "https://example.org"},
        ],
        store,
    )
    rows = markup.to_dict()["inline_keyboard"]
    assert rows[0] == [{"text": "Yes", "callback_data": "/affirm"}]
    data = rows[1][0]["callback_data"]
    assert len(data.encode()) <= 64 and store.payload_for(data) == long_payload
    assert rows[2][0]["url"] == "https://example.org"
    assert keyboard([], store) is None


# --- end to end ---------------------------------------------------------------------------------


@pytest.mark.servers
def test_message_in_reply_out(polling: tuple[FakeBotApi, Path], rasa: RasaServer) -> None:
    api, _ = polling
    api.push_message(1001, "hello", language_code="en")
    (reply,) = api.wait_sent(1001)
    assert reply.params["text"] == first_text(rasa, "hello")
    assert "parse_mode" not in reply.params  # plain text: nothing in an answer can inject formatting
    assert api.sent(1001, "sendChatAction")[0].params["action"] == "typing"
    (user,) = user_messages(rasa, 1001)
    assert user["input_channel"] == "intranet"
    assert user["metadata"]["telegram"] == {
        "chat_id": 1001,
        "chat_type": "private",
        "user_id": 1001,
        "username": "user1001",
        "language_code": "en",
    }


@pytest.mark.servers
def test_start_greets_in_the_users_language(polling: tuple[FakeBotApi, Path], rasa: RasaServer) -> None:
    api, _ = polling
    api.push_message(1002, "/start", language_code="zh-hans")
    sent = api.wait_sent(1002, 2)
    assert [c.params["text"] for c in sent] == [
        first_text(rasa, "你好"),
        say("commands", "zh"),
    ]


@pytest.mark.servers
def test_help_shows_rasa_buttons_and_a_click_is_answered(
    polling: tuple[FakeBotApi, Path], rasa: RasaServer
) -> None:
    api, _ = polling
    help_response = rasa_says(rasa, "help")[0]
    buttons = help_response.get("buttons") or []
    assert buttons, (
        "utter_help has no buttons in domain.yml (see the channels report: example-question buttons)"
    )
    api.push_message(1003, "/help")
    first = api.wait_sent(1003, 2)[0]
    assert first.params["text"] == help_response["text"]
    rows = first.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in rows] == [b["title"] for b in buttons]
    # The user taps the first button: the query is answered, the keyboard replaced by the choice,
    # and the payload goes to Rasa as the user's next message.
    bot_message = {
        "message_id": 99,
        "date": 0,
        "chat": {"id": 1003, "type": "private"},
        "text": first.params["text"],
        "reply_markup": first.params["reply_markup"],
    }
    api.push_callback(1003, rows[0][0]["callback_data"], bot_message)
    api.wait_for(lambda: api.calls_of("answerCallbackQuery"))
    (edit,) = api.wait_sent(1003, 1, "editMessageText")
    assert edit.params["text"].endswith(f"→ {buttons[0]['title']}") and "reply_markup" not in edit.params
    assert len(api.wait_sent(1003, 3, timeout_s=120)) >= 3  # the answer to the button's question


@pytest.mark.servers
def test_reset_restarts_the_rasa_conversation(polling: tuple[FakeBotApi, Path], rasa: RasaServer) -> None:
    api, _ = polling
    api.push_message(1004, "hello")
    api.wait_sent(1004)
    api.push_message(1004, "/reset")
    # One confirmation: Rasa's own when its domain has one, else the bridge's.
    confirmation = [m["text"] for m in rasa_says(rasa, "/restart") if m.get("text")] or [say("reset", "en")]
    # The reply to "hello" came first.
    assert [c.params["text"] for c in api.wait_sent(1004, 1 + len(confirmation))[1:]] == confirmation
    assert "restart" in [e["event"] for e in tracker_events(rasa, 1004)]


@pytest.mark.servers
def test_strangers_are_refused_and_never_reach_rasa(
    polling: tuple[FakeBotApi, Path], rasa: RasaServer
) -> None:
    api, _ = polling
    api.push_message(4242, "hello", language_code="en")
    (refusal,) = api.wait_sent(4242)
    assert refusal.params["text"] == say("telegram_refused", "en", id=4242)
    assert user_messages(rasa, 4242) == []
    # A stranger inside an allowed group chat is served: the group is on the list.
    api.push_message(GROUP, "hello", user_id=5555, chat_type="group")
    assert api.wait_sent(GROUP)[0].params["text"] == first_text(rasa, "hello")


@pytest.mark.servers
def test_non_text_updates_are_handled_without_errors(polling: tuple[FakeBotApi, Path]) -> None:
    api, log = polling
    sticker = {
        "file_id": "s",
        "file_unique_id": "s1",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    photo = [{"file_id": "p", "file_unique_id": "p1", "width": 90, "height": 90}]
    api.push_message(1005, None, sticker=sticker)
    api.push_message(1005, None, photo=photo)
    api.push(api.make_update(edited_message={**api.message(1005, "hello again"), "edit_date": 1}))
    api.push_message(
        JOIN_GROUP,
        None,
        user_id=1006,
        chat_type="group",
        new_chat_members=[{"id": 1007, "is_bot": False, "first_name": "New"}],
    )
    api.push(
        api.make_update(
            channel_post={
                "message_id": 5,
                "date": 0,
                "chat": {"id": -100900, "type": "channel", "title": "News"},
                "text": "hi",
            }
        )
    )
    api.push_message(1005, "/nonsense")
    sent = api.wait_sent(1005, 3)
    # Updates are handled concurrently, so the replies may come in any order.
    expected = [say("non_text", "en")] * 2 + [say("unknown_command", "en")]
    assert sorted(c.params["text"] for c in sent) == sorted(expected)
    assert not api.sent(JOIN_GROUP) and not api.sent(-100900)
    assert "Traceback" not in log.read_text() and "update failed" not in log.read_text()


@pytest.mark.servers
def test_a_flooding_chat_is_slowed_down(polling: tuple[FakeBotApi, Path], rasa: RasaServer) -> None:
    api, _ = polling
    for _ in range(9):
        api.push_message(1008, "hello")
    api.wait_for(lambda: say("too_fast", "en").split("{")[0] in " ".join(texts(api, 1008)))
    api.wait_for(lambda: len(texts(api, 1008)) >= 6)
    sent = texts(api, 1008)
    warnings = [t for t in sent if t.startswith(say("too_fast", "en").split("{")[0])]
    assert len(warnings) == 1, sent  # one warning, not one per message of the flood
    assert len(user_messages(rasa, 1008)) == 5  # the burst (TELEGRAM_RATE_BURST) and no more


@pytest.mark.servers
def test_long_replies_are_split(api: FakeBotApi, rasa: RasaServer, tmp_path: Path) -> None:
    limit = 60  # small enough to split the help text; the unit test above covers Telegram's 4096
    env = bridge_env(api, rasa.url, rasa.intranet_tokens[1], TELEGRAM_MAX_MESSAGE_CHARS=str(limit))
    # What Rasa says to "help", asked directly; the bridge must deliver all of it, in pieces.
    whole = "\n".join(m["text"] for m in rasa_says(rasa, "help") if m.get("text"))
    assert utf16_len(whole) > 2 * limit, whole

    def squeeze(text: str) -> str:
        return "".join(text.split())  # the cuts fall on whitespace, which is dropped there

    with telegram_bridge(tmp_path, env, lambda: bool(api.calls_of("deleteWebhook")), "split"):
        api.push_message(1010, "help")
        api.wait_for(lambda: squeeze("".join(texts(api, 1010))) == squeeze(whole))
    parts = texts(api, 1010)
    assert len(parts) >= utf16_len(whole) // limit
    assert all(0 < utf16_len(p) <= limit for p in parts)


@pytest.mark.servers
def test_webhook_mode_checks_the_secret_token(api: FakeBotApi, rasa: RasaServer, tmp_path: Path) -> None:
    port, secret = free_port(), secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{port}/telegram-hook"
    env = bridge_env(
        api,
        rasa.url,
        rasa.intranet_tokens[1],
        TELEGRAM_WEBHOOK_URL=url,
        TELEGRAM_WEBHOOK_SECRET=secret,
        TELEGRAM_WEBHOOK_PORT=str(port),
    )

    def ready() -> bool:
        return bool(api.calls_of("setWebhook")) and http_ok(f"http://127.0.0.1:{port}/healthz")

    with telegram_bridge(tmp_path, env, ready, "webhook") as log:
        (hook,) = api.calls_of("setWebhook")
        assert hook.params["url"] == url and hook.params["secret_token"] == secret
        update = api.make_update(message=api.message(1011, "hello"))
        for wrong in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
            refused = requests.post(url, json=update, headers=wrong, timeout=10)
            assert refused.status_code == 403
        accepted = requests.post(
            url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}, timeout=10
        )
        assert accepted.status_code == 200
        (reply,) = api.wait_sent(1011)
        assert reply.params["text"] == first_text(rasa, "hello")
        assert "wrong or missing secret token" in log.read_text()
    assert len(api.sent(1011)) == 1  # the refused posts produced nothing


@pytest.mark.servers
def test_rasa_down_gets_a_graceful_reply(api: FakeBotApi, rasa: RasaServer, tmp_path: Path) -> None:
    env = bridge_env(api, f"http://127.0.0.1:{free_port()}", rasa.intranet_tokens[1])
    with telegram_bridge(tmp_path, env, lambda: bool(api.calls_of("deleteWebhook")), "down") as log:
        api.push_message(1012, "hello")
        (reply,) = api.wait_sent(1012)
    assert reply.params["text"] == say("unavailable", "en")
    text = log.read_text()
    assert "rasa unavailable chat=1012: unreachable" in text and "Traceback" not in text


@pytest.mark.servers
def test_a_wrong_service_token_is_a_graceful_reply_too(
    api: FakeBotApi, rasa: RasaServer, tmp_path: Path
) -> None:
    env = bridge_env(api, rasa.url, "not-a-service-token")
    with telegram_bridge(tmp_path, env, lambda: bool(api.calls_of("deleteWebhook")), "badtoken") as log:
        api.push_message(1013, "hello")
        (reply,) = api.wait_sent(1013)
    assert reply.params["text"] == say("unavailable", "en")
    assert "status 401" in log.read_text()
    assert user_messages(rasa, 1013) == []


@pytest.mark.servers
@pytest.mark.parametrize(
    ("chat_id", "message", "lang"),
    [
        (1014, "量化" * 1000, "zh-hans"),  # 2,000 characters: legal in Telegram, 6,000 UTF-8 bytes
        (1015, "🚀" * 1100, "en"),  # 2,200 UTF-16 units, 4,400 bytes
    ],
)
def test_an_over_long_message_is_refused_with_a_clear_word(
    polling: tuple[FakeBotApi, Path], rasa: RasaServer, chat_id: int, message: str, lang: str
) -> None:
    api, log = polling
    api.push_message(chat_id, message, language_code=lang)
    (reply,) = api.wait_sent(chat_id)
    size = len(message.encode("utf-8"))
    assert size > 4096 and utf16_len(message) <= 4096
    expected = say("too_long", "zh" if lang.startswith("zh") else "en", n=size, limit=4096)
    assert reply.params["text"] == expected
    assert user_messages(rasa, chat_id) == []  # refused by the bridge, not by the webhook
    assert f"telegram message too long chat={chat_id} bytes={size}" in log.read_text()
    assert message[:50] not in log.read_text()


class _SaysNothing(BaseHTTPRequestHandler):
    """An intranet webhook that accepts every message and answers an empty list."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.servers
def test_an_empty_reply_list_gets_a_retry_message(api: FakeBotApi, tmp_path: Path) -> None:
    silent = ThreadingHTTPServer(("127.0.0.1", 0), _SaysNothing)
    threading.Thread(target=silent.serve_forever, daemon=True).start()
    env = bridge_env(api, f"http://127.0.0.1:{silent.server_port}", "any-token")
    try:
        with telegram_bridge(tmp_path, env, lambda: bool(api.calls_of("deleteWebhook")), "empty") as log:
            api.push_message(1017, "What is continuous batching?", language_code="en")
            (reply,) = api.wait_sent(1017)
            api.push_message(1017, "/reset", language_code="en")  # silence is Rasa's normal answer here
            assert api.wait_sent(1017, 2)[-1].params["text"] == say("reset", "en")
    finally:
        silent.shutdown()
        silent.server_close()
    assert reply.params["text"] == say("unavailable", "en")
    assert "rasa sent no reply chat=1017" in log.read_text()


@pytest.fixture(scope="module")
def rasa_without_actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaServer]:
    """A Rasa server whose action endpoint is a closed port, as when the action server is down."""
    workdir = tmp_path_factory.mktemp("no-actions")
    env = {"INTRANET_TOKENS": f"bridge:{secrets.token_hex(16)}"}
    closed = f"http://127.0.0.1:{free_port()}"
    with rasa_server(workdir, closed, f"sqlite:///{workdir / 'tracker.db'}", env=env) as server:
        yield server


@pytest.mark.servers
def test_action_server_down_is_never_silence(
    api: FakeBotApi, rasa_without_actions: RasaServer, tmp_path: Path
) -> None:
    server = rasa_without_actions
    env = bridge_env(api, server.url, server.intranet_tokens[0])
    with telegram_bridge(tmp_path, env, lambda: bool(api.calls_of("deleteWebhook")), "noactions"):
        api.push_message(1016, "QLoRA 是怎么节省显存的？", language_code="zh-hans")
        (reply,) = api.wait_sent(1016)
    # Rasa answers nothing when a custom action fails; the intranet channel or the bridge says so.
    assert reply.params["text"] == say("unavailable", "zh"), reply.params["text"]
