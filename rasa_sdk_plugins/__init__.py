"""Action-server extensions, found by rasa-sdk itself (it imports a package of this name at start-up).

The action server runs whatever action a request names, with whatever tracker the request holds,
so only the Rasa server may call it. On loopback (the default, `SANIC_HOST=127.0.0.1`) the host
is the boundary; anywhere else `ACTION_SERVER_TOKEN` is required, and Rasa sends it
(`action_endpoint.headers` in endpoints.yml, written by scripts/run.sh).
"""

from __future__ import annotations

import hmac
import logging
import os

import pluggy
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.loopback import is_loopback

logger = logging.getLogger(__name__)
hookimpl = pluggy.HookimplMarker("rasa_sdk")

# Routes that reveal nothing and run nothing: load balancers and `make run` poll them.
OPEN_PATHS = frozenset({"/health"})


class InsecureBindError(RuntimeError):
    """The action server was asked to listen beyond loopback without a token."""


def bearer_matches(authorization: str | None, token: str) -> bool:
    scheme, _, given = (authorization or "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def require_token(app: Sanic, token: str) -> None:
    @app.on_request
    async def check_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS or bearer_matches(request.headers.get("authorization"), token):
            return None
        logger.info("action server refused ip=%s path=%s", request.ip, request.path)
        return response.json({"error": "unauthorized"}, status=401)


class ActionServerAuth:
    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        host = os.environ.get("SANIC_HOST", "0.0.0.0")
        token = os.environ.get("ACTION_SERVER_TOKEN", "").strip()
        if token:
            require_token(app, token)
        elif not is_loopback(host):
            raise InsecureBindError(
                f"the action server would listen on {host} with no authentication: "
                "set ACTION_SERVER_TOKEN (scripts/run.sh gives it to Rasa too) or SANIC_HOST=127.0.0.1"
            )


def init_hooks(manager: pluggy.PluginManager) -> None:
    """rasa-sdk's entry point for plugins (rasa_sdk/plugin.py)."""
    manager.register(ActionServerAuth())
