"""Is a shopper on the widget right now? The email room asks before mailing a chat answer
(helpdesk.tickets.email.outbound.SHOPPER_ONLINE); chat.init_app registers `visitor_connected`."""

from __future__ import annotations

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from helpdesk.chat import visitors
from helpdesk.chat.sockets import _visitors
from helpdesk.chat.state import KEY
from helpdesk.tickets.models import Conversation


def visitor_connected(session: Session, conversation: Conversation) -> bool:
    """Is a browser of this conversation's shopper on /widget of its site right now? Asked of the
    app's presence (with Redis: any app process's sockets, so a separate worker knows too);
    outside an app context, of this process's own sockets."""
    if has_app_context() and KEY in current_app.extensions:
        ids = visitors.visitor_ids_of(session, conversation)
        return bool(ids) and current_app.extensions[KEY].presence.any_visitor_connected(ids)
    return any(conn.inbox_id == conversation.inbox_id
               and (conversation.public_id in conn.conversations
                    or (conn.customer_id is not None and conn.customer_id == conversation.customer_id))
               for conn in list(_visitors.values()))
