"""The socket adapters' side of the throttle and presence: who is asking (visitor, client address,
site) and the refusal they get. Kept out of sockets.py so the handlers stay one line per check."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from helpdesk.chat.presence import Presence
from helpdesk.chat.presence_redis import RedisPresence
from helpdesk.chat.state import ChatState, state_of
from helpdesk.errors import RateLimited


def state() -> ChatState:
    return state_of(current_app)


def presence() -> Presence | RedisPresence:
    return state().presence


def address() -> str:
    # ProxyFix (HELPDESK_PROXY_FIX_HOPS) has already put the shopper's own address here.
    return request.remote_addr or "unknown"


def check_connect(auth: dict[str, Any]) -> None:
    """A /widget connect; one without a visitor token also makes a visitor, counted apart."""
    site, addr = auth.get("site"), address()
    gate = state().throttle
    if not gate.allow(("connect:address", addr), ("connect:site", site)):
        raise RateLimited("too many connections from your network; wait a minute and try again")
    if not auth.get("token") and not gate.allow(("visitor:address", addr), ("visitor:site", site)):
        raise RateLimited("too many new chat visitors from your network; wait a minute and try again")


def check_send(visitor_id: int, site: str, opens_conversation: bool) -> None:
    gate = state().throttle
    if not gate.flood(visitor_id):
        raise RateLimited("you are sending messages too fast; wait a few seconds and try again")
    if opens_conversation and not gate.allow(("conversation:address", address()), ("conversation:site", site)):
        raise RateLimited("too many new conversations from your network; wait a minute and try again")


def check_flood(visitor_id: int, message: str) -> None:
    if not state().throttle.flood(visitor_id):
        raise RateLimited(message)


def check_history(visitor_id: int) -> None:
    if not state().throttle.allow(("history:visitor", visitor_id), ("history:address", address())):
        raise RateLimited("too many history requests; wait a minute and try again")


def typing_allowed(visitor_id: int) -> bool:
    """Typing has no ack: past the limit it is dropped, which costs the shopper nothing."""
    return state().throttle.allow(("typing:visitor", visitor_id), ("typing:address", address()))


def history_limits() -> tuple[int, int]:
    return int(current_app.config["CHAT_HISTORY_PAGE"]), int(current_app.config["CHAT_HISTORY_MAX_CHARS"])
