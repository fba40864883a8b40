"""Is a shopper on the widget right now? The email room asks before mailing a chat answer
(helpdesk.tickets.email.outbound.SHOPPER_ONLINE); chat.init_app registers `visitor_connected`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from helpdesk.chat.sockets import _visitors
from helpdesk.tickets.models import Conversation


def visitor_connected(_session: Session, conversation: Conversation) -> bool:
    """Is a browser of this conversation's shopper on /widget of its site right now (this process)?"""
    return any(conn.inbox_id == conversation.inbox_id
               and (conversation.public_id in conn.conversations
                    or (conn.customer_id is not None and conn.customer_id == conversation.customer_id))
               for conn in list(_visitors.values()))
