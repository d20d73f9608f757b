"""Token buckets per key, the client address they are keyed on, and the intranet's set of limits.

A sender (intranet) or a chat (Telegram) may burst, then waits. Pure Python, no I/O: imported by the
Rasa channel (Python 3.10) and the bridge (3.11).
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# X-Forwarded-For entries looked at, from the right: a longer chain is the client's own invention.
MAX_FORWARDED_HOPS = 8


@dataclass
class RateLimiter:
    """`burst` requests at once per key, refilled at `per_minute`; memory bounded by `max_keys`."""

    per_minute: float
    burst: int
    max_keys: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict, repr=False)

    def _tokens(self, key: str, now: float) -> float:
        tokens, stamp = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - stamp) * self.per_minute / 60.0)

    def _wait_for(self, tokens: float) -> float:
        if tokens >= 1.0:
            return 0.0
        rate = self.per_minute / 60.0
        return (1.0 - tokens) / rate if rate > 0 else float("inf")

    def wait(self, key: str) -> float:
        """Like `acquire` but takes nothing and stores nothing: 0.0 when a request may go ahead."""
        return self._wait_for(self._tokens(key, self.clock()))

    def acquire(self, key: str) -> float:
        """0.0 when the request may go ahead (one token taken), else the seconds until it may."""
        now = self.clock()
        tokens = self._tokens(key, now)
        wait = self._wait_for(tokens)
        if wait == 0.0:
            tokens -= 1.0
        self._buckets.pop(key, None)
        self._buckets[key] = (tokens, now)
        # A flood of new keys (random sender ids) evicts the least recently seen, never grows memory.
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """Addresses or CIDR networks (INTRANET_TRUSTED_PROXIES); ValueError names the bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an address or network: {value[:60]!r}") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:8080" as some proxies write it
        text = text[1 : text.index("]")]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The key the per-address limits use for a request.

    The peer itself, unless it is a trusted proxy: then the right-most X-Forwarded-For entry that
    is not a trusted proxy (entries further left are whatever the client chose to send). IPv6
    clients are keyed by their /64, which one host usually has whole: rotating inside it changes nothing.
    """
    address = _address(peer)
    if address is not None and forwarded_for and any(address in net for net in trusted):
        for hop in reversed(forwarded_for.split(",")[-MAX_FORWARDED_HOPS:]):
            hop_address = _address(hop)
            if hop_address is None:
                break  # garbage: stop at the last address a trusted proxy vouched for
            address = hop_address
            if not any(hop_address in net for net in trusted):
                break
    if address is None:
        return peer[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(frozen=True)
class Refusal:
    """A 429: which limit, and the seconds until the caller may try again."""

    scope: str
    retry_after_s: float


@dataclass
class IntranetLimits:
    """The intranet webhook's limits: failed authentications per address (checked before any
    signature work), and messages per credential, per address and per conversation."""

    failures: RateLimiter
    per_credential: RateLimiter
    per_address: RateLimiter
    per_conversation: RateLimiter

    def auth_blocked(self, address: str) -> Refusal | None:
        """A refusal while this address has used up its failed authentications."""
        wait = self.failures.wait(address)
        return Refusal("authentication failures from this address", wait) if wait > 0 else None

    def auth_failed(self, address: str) -> bool:
        """Counts one failure; True when it used the address's last one (worth one log line)."""
        self.failures.acquire(address)
        return self.failures.wait(address) > 0

    def admit(self, credential: str, address: str, conversation: str) -> Refusal | None:
        """None, and one token taken from each bucket, when all three limits allow a message.

        All are checked before any is charged, so a refused message costs none of its buckets.
        """
        checks = (
            (self.per_conversation, conversation, "messages from this sender"),
            (self.per_credential, credential, "messages with this credential"),
            (self.per_address, address, "messages from this address"),
        )
        for limiter, key, scope in checks:
            wait = limiter.wait(key)
            if wait > 0:
                return Refusal(scope, wait)
        for limiter, key, _ in checks:
            limiter.acquire(key)
        return None
