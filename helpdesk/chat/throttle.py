"""How much one visitor, one client address and one site may ask of the chat, counted with `limits`
in Redis when it is set (so every app process counts together) or in this process's memory.

A fresh visitor token costs nothing to make, so a limit per visitor alone stops nobody who
reconnects without one: connects, new visitors, conversations opened, `history` and `typing` are
also counted per client address (`request.remote_addr`, which honours HELPDESK_PROXY_FIX_HOPS) and
per site key. Each rule is a `limits` string ("20/minute", "10 per 10 seconds") from settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

# rule name -> the setting that holds its limit
RULES = {
    "connect:address": "CHAT_CONNECT_RATE_ADDRESS",
    "connect:site": "CHAT_CONNECT_RATE_SITE",
    "visitor:address": "CHAT_NEW_VISITOR_RATE_ADDRESS",
    "visitor:site": "CHAT_NEW_VISITOR_RATE_SITE",
    "conversation:address": "CHAT_CONVERSATION_RATE_ADDRESS",
    "conversation:site": "CHAT_CONVERSATION_RATE_SITE",
    "history:visitor": "CHAT_HISTORY_RATE_VISITOR",
    "history:address": "CHAT_HISTORY_RATE_ADDRESS",
    "typing:visitor": "CHAT_TYPING_RATE_VISITOR",
    "typing:address": "CHAT_TYPING_RATE_ADDRESS",
}
MAX_KEY = 100  # a site key or address longer than this is not one; it must not grow our storage


@dataclass
class Throttle:
    storage: Storage
    items: dict[str, RateLimitItem]
    prefix: str
    enabled: bool = True  # False lifts the address and site rules (load benchmarks from one address)

    def __post_init__(self) -> None:
        self._moving = MovingWindowRateLimiter(self.storage)
        self._fixed = FixedWindowRateLimiter(self.storage)

    def flood(self, visitor_id: int) -> bool:
        """The per-visitor gate on messages, uploads and contact changes: a moving window, so a
        burst cannot straddle a window edge to get twice through."""
        return self._moving.hit(self.items["flood"], self.prefix, "flood", str(visitor_id))

    def allow(self, *checks: tuple[str, object]) -> bool:
        """Count one hit on each (rule, key) in order, stopping at the first that is over its limit:
        one address refused must not spend the whole site's allowance (list the address first)."""
        if not self.enabled:
            return True
        return all(self._fixed.hit(self.items[rule], self.prefix, rule, str(key)[:MAX_KEY])
                   for rule, key in checks)


class CoarseMemoryStorage(MemoryStorage):
    """`limits`' memory storage with its clean-up sweep every second instead of every 10 ms.

    The sweep only frees memory (every read checks expiry itself), but it walks every key: with a
    thousand shoppers' flood windows it ran a hundred times a second, a few per cent of the chat
    server's CPU under load. Not registered for a URI scheme, so Flask-Limiter keeps the stock one."""

    SWEEP_SECONDS = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.timer.cancel()
        self._schedule()

    def _schedule(self) -> None:
        self.timer = threading.Timer(self.SWEEP_SECONDS, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
        self.timer.daemon = True
        self.timer.start()

    def _MemoryStorage__schedule_expiry(self) -> None:  # the base class's private hook, name-mangled
        if not self.timer.is_alive():
            self._schedule()


def _storage(uri: str) -> Storage:
    return CoarseMemoryStorage() if uri.startswith("memory://") else storage_from_string(uri)


def from_settings(config: Any, storage_uri: str, prefix: str) -> Throttle:
    window = max(1, round(float(config["CHAT_FLOOD_WINDOW_SECONDS"])))
    items: dict[str, RateLimitItem] = {"flood": RateLimitItemPerSecond(int(config["CHAT_FLOOD_BURST"]), window)}
    for rule, setting in RULES.items():
        items[rule] = parse(str(config[setting]))
    return Throttle(_storage(storage_uri), items, prefix, bool(config["CHAT_RATE_LIMITS"]))
