"""Who may call the intranet webhook: a Bearer token, or an HMAC-SHA256 signature with a timestamp.

Signature scheme (what a caller computes, see README "Channels"):
    X-Intranet-Timestamp: <unix seconds>
    X-Intranet-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>
Requests older or newer than the replay window are refused, and so is a second use of the same
signature inside the window. Every comparison of a secret is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

TIMESTAMP_HEADER = "X-Intranet-Timestamp"
SIGNATURE_HEADER = "X-Intranet-Signature"
SIGNATURE_PREFIX = "sha256="


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Intranet-Signature value for a body sent at `timestamp` (unix seconds, as a string)."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Both headers a caller adds to a signed request."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, None when there is none."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_matches(token: str, tokens: Sequence[str]) -> bool:
    """Constant-time check against every configured token (no early exit that would time which one)."""
    given = token.encode("utf-8")
    found = False
    for candidate in tokens:
        found |= hmac.compare_digest(given, candidate.encode("utf-8"))
    return found


@dataclass
class SignatureChecker:
    """Verifies signatures and remembers the ones seen inside the window to refuse replays."""

    secret: str
    window_s: int = 300
    max_remembered: int = 100_000
    _seen: OrderedDict[str, float] = field(default_factory=OrderedDict, repr=False)

    def check(self, timestamp: str | None, signature: str | None, body: bytes, now: float) -> str | None:
        """None when the request is authentic and fresh; otherwise why it is not."""
        if not timestamp or not signature:
            return "missing signature headers"
        if not timestamp.isdigit() or len(timestamp) > 12:
            return "bad timestamp"
        if abs(now - int(timestamp)) > self.window_s:
            return "timestamp outside the replay window"
        if not hmac.compare_digest(
            signature.strip().encode("utf-8"), sign(self.secret, timestamp, body).encode()
        ):
            return "bad signature"
        self._forget_expired(now)
        if signature in self._seen:
            return "replayed request"
        self._seen[signature] = now + self.window_s
        if len(self._seen) > self.max_remembered:
            self._seen.popitem(last=False)
        return None

    def _forget_expired(self, now: float) -> None:
        while self._seen:
            oldest, expiry = next(iter(self._seen.items()))
            if expiry > now:
                break
            del self._seen[oldest]
