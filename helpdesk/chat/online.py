"""Is a shopper on the widget right now? The email room asks before mailing a chat answer,
through the runtime capability "chat.shopper_online" that chat.init_app provides."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from helpdesk.chat.sockets import socket_state
from helpdesk.runtime import Runtime
from helpdesk.tickets.models import Conversation


def visitor_connected(runtime: Runtime, conversation: Conversation) -> bool:
    """Is a browser of this conversation's shopper on /widget of its site right now (this process)?"""
    return any(conn.inbox_id == conversation.inbox_id
               and (conversation.public_id in conn.conversations
                    or (conn.customer_id is not None and conn.customer_id == conversation.customer_id))
               for conn in list(socket_state(runtime).visitors.values()))


def shopper_online(runtime: Runtime) -> Callable[[Session, Conversation], bool]:
    """The "chat.shopper_online" capability of this app: `(session, conversation) -> bool`."""
    return lambda _session, conversation: visitor_connected(runtime, conversation)
