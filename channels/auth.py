"""Who may call the intranet webhook, and which conversations that caller may reach.

A caller authenticates with a Bearer token (one of INTRANET_TOKENS, each with a credential name) or
with an HMAC-SHA256 signature over the timestamp and the body (credential name `hmac`):
    X-Intranet-Timestamp: <unix seconds, ASCII digits>
    X-Intranet-Signature: sha256=<64 hex digits of HMAC-SHA256(secret, "<timestamp>." + raw body)>
Requests older or newer than the replay window are refused, and so is a second use of the same
signature while it could still be accepted. Every comparison of a secret is constant-time.

Every conversation is namespaced by the credential that reached it (`conversation_id`), so no
token can write into, reset or throttle another token's conversations.

Plain Python 3.10+, no Rasa import.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from channels.settings import HMAC_CREDENTIAL, Credential

TIMESTAMP_HEADER = "X-Intranet-Timestamp"
SIGNATURE_HEADER = "X-Intranet-Signature"
SIGNATURE_PREFIX = "sha256="
# ASCII digits only: str.isdigit() also takes "²" and "٣", which int() then rejects or reads.
TIMESTAMP_FORMAT = re.compile(r"[0-9]{1,12}")
SIGNATURE_FORMAT = re.compile(r"sha256=[0-9a-f]{64}")
SIGNATURE_LENGTH = len(SIGNATURE_PREFIX) + 64


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Intranet-Signature value for a body sent at `timestamp` (unix seconds, as a string)."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Both headers a caller adds to a signed request."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def normalise_signature(value: str) -> str | None:
    """The one canonical spelling of a signature header (`sha256=` + 64 lowercase hex), or None.

    Case is folded (hex digits mean the same in either case) but nothing else is forgiven: a
    trailing space, tab or no-break space would otherwise make a new replay-cache key for the
    same signature. ASCII is checked first because str.lower() maps some non-ASCII letters to ASCII.
    """
    if len(value) != SIGNATURE_LENGTH or not value.isascii():
        return None
    folded = value.lower()
    return folded if SIGNATURE_FORMAT.fullmatch(folded) else None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, None when there is none."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _digest(token: str) -> bytes:
    # Header text may hold lone surrogates (sanic decodes with surrogateescape): encode, never raise.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _match(given: bytes, digests: Sequence[tuple[str, bytes]]) -> str | None:
    found: str | None = None
    for name, digest in digests:
        if hmac.compare_digest(given, digest) and found is None:
            found = name
    return found


def credential_for(token: str, credentials: Sequence[Credential]) -> str | None:
    """The name of the credential whose token this is, or None.

    Digests are compared, so the time taken depends neither on which token matched nor on lengths;
    every candidate is compared (no early exit).
    """
    return _match(_digest(token), [(c.name, _digest(c.token)) for c in credentials])


def conversation_id(credential: str, sender: str) -> str:
    """The Rasa conversation a caller's `sender` maps to: `<credential name>:<sender>`.

    Credential names never contain ":", so two (credential, sender) pairs never share an id.
    """
    return f"{credential}:{sender}"


@dataclass
class SignatureChecker:
    """Verifies signatures and remembers the ones that could still be accepted, to refuse replays."""

    secret: str = field(repr=False)
    window_s: int = 300
    max_remembered: int = 100_000
    _seen: dict[str, int] = field(default_factory=dict, repr=False)
    _expiries: list[tuple[int, str]] = field(default_factory=list, repr=False)

    def check(self, timestamp: str | None, signature: str | None, body: bytes, now: float) -> str | None:
        """None when the request is authentic and fresh; otherwise why it is not."""
        if not timestamp or not signature:
            return "missing signature headers"
        if not TIMESTAMP_FORMAT.fullmatch(timestamp):
            return "bad timestamp: unix seconds in ASCII digits"
        sent_at = int(timestamp)
        if abs(now - sent_at) > self.window_s:
            return "timestamp outside the replay window"
        canonical = normalise_signature(signature)
        if canonical is None:
            return "bad signature format: expected sha256=<64 hex digits>"
        if not hmac.compare_digest(canonical, sign(self.secret, timestamp, body)):
            return "bad signature"
        return self._remember(canonical, sent_at, now)

    def _remember(self, canonical: str, sent_at: int, now: float) -> str | None:
        self._forget_expired(now)
        if canonical in self._seen:
            return "replayed request"
        if len(self._seen) >= self.max_remembered:
            # Evicting a live entry would reopen it to replay: refuse instead (fail closed).
            return "too many signed requests in the replay window; retry later"
        # The signature is acceptable until sent_at + window (not arrival + window: a request
        # dated in the future stays acceptable for longer than one dated now).
        expiry = sent_at + self.window_s
        self._seen[canonical] = expiry
        heapq.heappush(self._expiries, (expiry, canonical))
        return None

    def _forget_expired(self, now: float) -> None:
        # Strictly past the expiry: at now == expiry the timestamp is still inside the window.
        while self._expiries and self._expiries[0][0] < now:
            _, canonical = heapq.heappop(self._expiries)
            self._seen.pop(canonical, None)


@dataclass(frozen=True)
class Verdict:
    """The outcome of one authentication step: a credential name, a refusal, or neither (pending)."""

    credential: str | None = None
    reason: str | None = None


@dataclass
class Authenticator:
    """Bearer tokens first (decided from the headers alone), then signatures (need the body)."""

    credentials: Sequence[Credential]
    signatures: SignatureChecker | None = None
    _digests: list[tuple[str, bytes]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._digests = [(c.name, _digest(c.token)) for c in self.credentials]

    def from_headers(
        self, authorization: str | None, timestamp: str | None, signature: str | None
    ) -> Verdict:
        """A verdict from the headers; both fields None means a signed request, decided with the body."""
        token = bearer_token(authorization)
        if token is not None:
            name = _match(_digest(token), self._digests)
            return Verdict(credential=name) if name else Verdict(reason="invalid token")
        if timestamp is None and signature is None:
            return Verdict(
                reason="missing credentials: send 'Authorization: Bearer <token>' or a signed request"
            )
        if self.signatures is None:
            return Verdict(reason="signed requests are not enabled")
        return Verdict()

    def with_body(self, timestamp: str | None, signature: str | None, body: bytes, now: float) -> Verdict:
        """The verdict on a signed request once its body is read."""
        if self.signatures is None:
            return Verdict(reason="signed requests are not enabled")
        reason = self.signatures.check(timestamp, signature, body, now)
        return Verdict(reason=reason) if reason else Verdict(credential=HMAC_CREDENTIAL)
