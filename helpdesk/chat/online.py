"""Is a shopper on the widget right now? The email room asks before mailing a chat answer,
through the runtime capability "chat.shopper_online" that chat.init_app provides.

The sockets live in the web process but the question is asked by the job worker, another OS
process: so the web process also writes what it knows into the database. A widget connection
sets `ChatVisitor.connected_until` (now + CONNECTED_FOR_SECONDS), keep_fresh pushes it on every
PRESENCE_REFRESH_SECONDS while the shopper stays, and their last disconnect clears it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpdesk.chat.models import ChatVisitor
from helpdesk.chat.sockets import CONNECTED_FOR_SECONDS, socket_state
from helpdesk.db import utcnow
from helpdesk.runtime import Runtime
from helpdesk.tickets.models import Conversation

log = logging.getLogger(__name__)
PRESENCE_REFRESH_SECONDS = CONNECTED_FOR_SECONDS / 2.5  # one missed refresh is not a departure


def visitor_connected(runtime: Runtime, conversation: Conversation) -> bool:
    """Is a browser of this conversation's shopper on /widget of its site right now (this process)?"""
    return any(conn.inbox_id == conversation.inbox_id
               and (conversation.public_id in conn.conversations
                    or (conn.customer_id is not None and conn.customer_id == conversation.customer_id))
               for conn in list(socket_state(runtime).visitors.values()))


def marked_connected(session: Session, conversation: Conversation) -> bool:
    """Has a web process (any) marked this conversation's shopper as on /widget of its site?"""
    if conversation.customer_id is None:
        return False
    return session.scalar(select(ChatVisitor.id).where(
        ChatVisitor.inbox_id == conversation.inbox_id, ChatVisitor.customer_id == conversation.customer_id,
        ChatVisitor.connected_until > utcnow()).limit(1)) is not None


def shopper_online(runtime: Runtime) -> Callable[[Session, Conversation], bool]:
    """The "chat.shopper_online" capability of this app: `(session, conversation) -> bool`,
    true when connected to this process or marked connected by another (the worker asks)."""
    return lambda session, conversation: (visitor_connected(runtime, conversation)
                                          or marked_connected(session, conversation))


REFRESH_CHUNK = 200  # shoppers per write: 3,000 in one UPDATE held the write lock (and chat) ~50 ms


def refresh(runtime: Runtime, pause: Callable[[], Any] = lambda: None) -> int:
    """Push the presence mark of this process's connected shoppers, in short writes of
    REFRESH_CHUNK each (`pause` between them lets the chat's own writes in)."""
    ids = sorted({conn.visitor_id for conn in list(socket_state(runtime).visitors.values())})
    marked = 0
    for start in range(0, len(ids), REFRESH_CHUNK):
        if start:
            pause()
        with runtime.db.unit_of_work() as session:
            marked += session.execute(
                update(ChatVisitor).where(ChatVisitor.id.in_(ids[start:start + REFRESH_CHUNK]))
                .values(connected_until=utcnow() + timedelta(seconds=CONNECTED_FOR_SECONDS))).rowcount
    return marked


def keep_fresh(runtime: Runtime, sleep: Any) -> None:
    """The web process's loop (helpdesk/server.py starts it)."""
    while True:
        sleep(PRESENCE_REFRESH_SECONDS)
        try:
            refresh(runtime, pause=lambda: sleep(0.002))
        except Exception:  # a busy database: the next round catches up
            log.warning("refreshing chat presence failed", exc_info=True)
