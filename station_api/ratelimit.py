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

    def __init__(self, limit: int, window_s: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}

    def hit(self, key: str) -> None:
        """Count one hit; raise :class:`RateLimited` (with ``Retry-After``) past the limit."""
        now = self._clock()
        window = int(now // self.window_s)
        with self._lock:
            if len(self._windows) > 100_000:  # bound memory under a flood of distinct keys
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
            start, count = self._windows.get(key, (window, 0))
            if start != window:
                start, count = window, 0
            count += 1
            self._windows[key] = (start, count)
        if count > self.limit:
            retry = max(1, int((window + 1) * self.window_s - now))
            raise RateLimited("rate limit exceeded", headers={"Retry-After": str(retry)})

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
