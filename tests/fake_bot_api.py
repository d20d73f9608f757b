"""A fake Telegram Bot API on loopback: the methods python-telegram-bot calls, nothing else.

Tests queue updates (`push_message`, `push_callback`, ...), the bridge fetches them with
getUpdates (long polling) or gets them posted to its webhook, and every call it makes is recorded
for the test to inspect (`calls`, `wait_for`). Unknown methods answer 404 as Telegram does.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER = {
    "id": 777000111,
    "is_bot": True,
    "first_name": "Notes",
    "username": "notes_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


def _decode(value: str) -> Any:
    """python-telegram-bot sends form fields whose values are JSON (numbers, objects) or plain strings."""
    try:
        return json.loads(value)
    except ValueError:
        return value


@dataclass
class FakeBotApi:
    token: str = "123456:TEST-token"
    calls: list[Call] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _server: ThreadingHTTPServer | None = None

    # --- what tests use -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeBotApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                api._handle(self)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            with self._cond:
                self._cond.notify_all()
            self._server.shutdown()
            self._server.server_close()

    def make_update(self, **content: Any) -> dict[str, Any]:
        return {"update_id": next(self._ids), **content}

    def message(
        self,
        chat_id: int,
        text: str | None = None,
        user_id: int | None = None,
        language_code: str = "en",
        chat_type: str = "private",
        **extra: Any,
    ) -> dict[str, Any]:
        user = {
            "id": user_id or chat_id,
            "is_bot": False,
            "first_name": "Test",
            "username": f"user{user_id or chat_id}",
            "language_code": language_code,
        }
        chat = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Test"
        else:
            chat["title"] = "Team"
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **extra,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return message

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            self._updates.append(update)
            self._cond.notify_all()
        return update

    def push_message(self, chat_id: int, text: str | None = None, **kwargs: Any) -> dict[str, Any]:
        return self.push(self.make_update(message=self.message(chat_id, text, **kwargs)))

    def push_callback(
        self,
        chat_id: int,
        data: str,
        message: dict[str, Any],
        user_id: int | None = None,
        language_code: str = "en",
    ) -> dict[str, Any]:
        user = {
            "id": user_id or chat_id,
            "is_bot": False,
            "first_name": "Test",
            "language_code": language_code,
        }
        query = {
            "id": str(next(self._ids)),
            "from": user,
            "chat_instance": "ci",
            "data": data,
            "message": message,
        }
        return self.push(self.make_update(callback_query=query))

    def calls_of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int, method: str = "sendMessage") -> list[Call]:
        with self._cond:
            return [
                c for c in self.calls if c.method == method and str(c.params.get("chat_id")) == str(chat_id)
            ]

    def wait_for(self, predicate: Callable[[], Any], timeout_s: float = 60.0) -> Any:
        """The predicate's first truthy value; AssertionError with the calls so far when it never comes."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out; calls: {[(c.method, c.params) for c in self.calls][-20:]}"
                    )
                self._cond.wait(min(left, 0.5))

    def wait_sent(
        self, chat_id: int, count: int = 1, method: str = "sendMessage", timeout_s: float = 60.0
    ) -> list[Call]:
        return self.wait_for(
            lambda: (lambda s: s if len(s) >= count else None)(self.sent(chat_id, method)), timeout_s
        )

    # --- the Bot API ----------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        prefix = f"/bot{self.token}/"
        if not request.path.startswith(prefix):
            self._reply(request, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        method = request.path[len(prefix) :].split("?")[0]
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode("utf-8") if length else ""
        if "json" in (request.headers.get("Content-Type") or ""):
            params = json.loads(raw or "{}")
        else:
            params = {k: _decode(v) for k, v in parse_qsl(raw)}
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            self._reply(request, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        if method != "getUpdates":
            with self._cond:
                self.calls.append(Call(method, params))
                self._cond.notify_all()
        self._reply(request, 200, {"ok": True, "result": handler(params)})

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        # The bridge may give up a long poll while it stops.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            request.wfile.write(data)

    def _bot_message(self, params: dict[str, Any], message_id: int | None = None) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message = {
            "message_id": message_id or next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": BOT_USER,
            "text": params.get("text", ""),
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 5.0)
        with self._cond:
            # Confirmed updates (below offset) are gone, as in Telegram.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return list(self._updates)

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._bot_message(params)

    def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._bot_message(params, int(params["message_id"]))

    def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        return True

    def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        return True

    def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        return True
