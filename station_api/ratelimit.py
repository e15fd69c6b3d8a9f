"""Fixed-window rate limits for authentication and verification, kept in process memory.

Decision: per-process counters (each uvicorn worker counts on its own, so the effective limit is
``limit × workers``); a national deployment puts the same limits in the TLS proxy or a shared store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from station_api.errors import RateLimited


class RateLimiter:
    """At most ``limit`` hits per ``window_s`` seconds per key."""

    #: Distinct keys counted per window; past it, new keys are refused (memory and CPU stay bounded).
    MAX_KEYS = 100_000

    def __init__(self, limit: int, window_s: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[str, int] = {}

    def hit(self, key: str) -> None:
        """Count one hit; raise :class:`RateLimited` (with ``Retry-After``) past the limit.

        Decision: the counters of a window are dropped at once when the next window starts (O(1) per hit);
        a flood of more than ``MAX_KEYS`` distinct keys in one window is refused for its new keys (fail closed)
        instead of growing or rescanning the table."""
        now = self._clock()
        window = int(now // self.window_s)
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, {}
            if key in self._counts:
                self._counts[key] += 1
                over = self._counts[key] > self.limit
            elif len(self._counts) >= self.MAX_KEYS:
                over = True  # no room to count a new key in this window
            else:
                self._counts[key] = 1
                over = 1 > self.limit
        if over:
            retry = max(1, int((window + 1) * self.window_s - now))
            raise RateLimited("rate limit exceeded", headers={"Retry-After": str(retry)})

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
