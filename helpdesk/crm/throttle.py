"""Client-side request budget: stay under a CRM's documented rate instead of collecting 429s."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class Throttle:
    """At most `limit` calls in any `window` seconds (a sliding window, like HubSpot's)."""

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.limit = max(1, limit)
        # A little slack: the server starts its window when the request arrives, after we sent it.
        self.window = window + 0.05
        self._clock = clock
        self._sleep = sleep
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._calls and now - self._calls[0] >= self.window:
                    self._calls.popleft()
                if len(self._calls) < self.limit:
                    self._calls.append(now)
                    return
                delay = self.window - (now - self._calls[0])
            self._sleep(max(delay, 0.001))

    @classmethod
    def parse(cls, spec: str | None, default: str) -> Throttle:
        """'190/10' -> 190 calls per 10 seconds."""
        limit, _, window = (spec or default).partition("/")
        return cls(int(limit), float(window or 1))
