"""Per-key token buckets: a sender (intranet) or a chat (Telegram) may burst, then waits.

Pure Python, no I/O: imported by the Rasa channel (Python 3.10) and the bridge (3.11).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    """`burst` requests at once per key, refilled at `per_minute`; memory bounded by `max_keys`."""

    per_minute: float
    burst: int
    max_keys: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict, repr=False)

    def acquire(self, key: str) -> float:
        """0.0 when the request may go ahead (one token taken), else the seconds until it may."""
        now = self.clock()
        rate = self.per_minute / 60.0
        tokens, stamp = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / rate if rate > 0 else float("inf")
        self._buckets[key] = (tokens, now)
        # A flood of new keys (random sender ids) evicts the least recently seen, never grows memory.
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait
