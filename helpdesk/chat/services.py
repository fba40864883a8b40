"""Chat use cases: what the widget and console sockets call. No Flask here."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.actors import Actor
from helpdesk.chat import assignment, attachments, visitors
from helpdesk.chat.models import ChatVisitor
from helpdesk.db import MAX_INT, utcnow
from helpdesk.errors import Invalid
from helpdesk.tickets import replies
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Message

SUBJECT_CHARS = 80
MAX_HISTORY = 500
# A shopper writing again this soon after their chat was resolved (often right after rating it)
# continues that conversation, which reopens; later, a new conversation starts.
FOLLOW_UP = timedelta(days=7)


def continues(conversation: Conversation | None, now: datetime) -> bool:
    """Does the shopper's next message go into this conversation?"""
    if conversation is None:
        return False
    if conversation.status.value != "resolved":
        return True
    return conversation.resolved_at is not None and now - conversation.resolved_at <= FOLLOW_UP


def prechat_missing(visitor: ChatVisitor) -> bool:
    """The inbox asks for name and email before a chat starts, and this shopper gave none."""
    required = bool((visitor.inbox.settings or {}).get("prechat"))
    return required and not (visitor.customer is not None and visitor.customer.email)


def visitor_send(session: Session, visitor: ChatVisitor, data: Any, *, online_agent_ids: Collection[int] = (),
                 max_len: int = tickets.MAX_BODY, started: Collection[str] = ()) -> Message:
    """The shopper's message; opens a conversation when none is going. Everything is validated
    before the conversation is made, so a refused message leaves nothing behind. `started`: the
    conversations this browser is known to have started (see visitors.conversation_of)."""
    if not isinstance(data, dict):
        raise Invalid("payload", "an object with client_msg_id and body")
    body, client_msg_id = data.get("body"), data.get("client_msg_id")
    if not isinstance(client_msg_id, str) or not 1 <= len(client_msg_id) <= tickets.MAX_CLIENT_MSG_ID:
        raise Invalid("client_msg_id", f"1 to {tickets.MAX_CLIENT_MSG_ID} characters")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise Invalid("body", "must be text")
    files = attachments.claim_uploads(session, visitor, data.get("attachments"))
    if not body.strip() and not files:
        raise Invalid("body", "must not be empty", code="empty_body")
    if len(body.strip()) > max_len:
        raise Invalid("body", f"longer than {max_len} characters", code="body_too_long")
    actor = visitors.actor_of(session, visitor)
    if data.get("conversation_id"):
        conversation = visitors.conversation_of(session, visitor, data["conversation_id"], started, lean=True)
    else:
        conversation = _going_conversation(session, visitor, client_msg_id)
    if conversation is None:
        if prechat_missing(visitor):
            # The form in the widget is not a suggestion: typing past it starts nothing.
            raise Invalid("contact", "this chat asks for your name and email first", code="prechat_required")
        conversation = tickets.create_conversation(
            session, actor, inbox=visitor.inbox, customer=visitors.owner_of(session, visitor),
            subject=" ".join(body.split())[:SUBJECT_CHARS] or (files[0].filename if files else ""))
        visitors.record_started(session, visitor, conversation)
        assignment.route_new(session, conversation, online_agent_ids)
    return tickets.post_message(session, actor, conversation, body=body, client_msg_id=client_msg_id,
                                max_len=max_len, author_name=visitor.customer.display_name if visitor.customer
                                else actor.name, attachments=files)


def _going_conversation(session: Session, visitor: ChatVisitor, client_msg_id: str) -> Conversation | None:
    # A resend whose first try opened a conversation must land there, whatever happened since.
    for conversation in visitors.conversations(session, visitor):
        if session.scalar(select(Message.id).filter_by(conversation_id=conversation.id,
                                                       client_msg_id=client_msg_id)):
            return conversation
    current = visitors.current_conversation(session, visitor)
    return current if continues(current, utcnow()) else None


def history(session: Session, conversation: Conversation, after_seq: Any, *,
            for_agent: bool) -> list[Message]:
    """Messages after `after_seq`, in seq order; shoppers never get private notes."""
    if isinstance(after_seq, bool) or not isinstance(after_seq, int) or not 0 <= after_seq <= MAX_INT:
        raise Invalid("after_seq", "a whole number, 0 or more")
    query = select(Message).filter(Message.conversation_id == conversation.id, Message.seq > after_seq)
    if not for_agent:
        query = query.filter(Message.private.is_(False))
    return list(session.scalars(query.order_by(Message.seq).limit(MAX_HISTORY)))


def history_page(session: Session, conversation: Conversation, after_seq: Any, *, limit: int,
                 max_chars: int) -> tuple[list[Message], bool]:
    """A shopper's page of history: at most `limit` messages and about `max_chars` of text (at
    least one message), so one call never builds an unbounded answer; True when more follow."""
    if isinstance(after_seq, bool) or not isinstance(after_seq, int) or not 0 <= after_seq <= MAX_INT:
        raise Invalid("after_seq", "a whole number, 0 or more")
    rows = list(session.scalars(
        select(Message).filter(Message.conversation_id == conversation.id, Message.seq > after_seq,
                               Message.private.is_(False)).order_by(Message.seq).limit(limit + 1)))
    page: list[Message] = []
    chars = 0
    for message in rows[:limit]:
        chars += len(message.body_text or "") + len(message.body_html or "")
        if page and chars > max_chars:
            break
        page.append(message)
    return page, len(page) < len(rows)


def agent_send(session: Session, actor: Actor, data: Any, max_len: int = tickets.MAX_BODY) -> Message:
    if not isinstance(data, dict):
        raise Invalid("payload", "an object with conversation_id, client_msg_id and body")
    conversation = tickets.get_conversation(session, str(data.get("conversation_id") or ""), actor, lean=True)
    client_msg_id = data.get("client_msg_id")
    if not isinstance(client_msg_id, str) or not client_msg_id:
        raise Invalid("client_msg_id", f"1 to {tickets.MAX_CLIENT_MSG_ID} characters")
    body = data.get("body")
    if not isinstance(body, str):
        raise Invalid("body", "must be text")
    # The reply path of the console and the REST API: an email conversation's reply gets its
    # recipients (default: the customer; `to`/`cc`/`bcc` if given) and the signature here too.
    return replies.reply(session, actor, conversation, body=body, client_msg_id=client_msg_id,
                         private=bool(data.get("private")), max_len=max_len, to=data.get("to"),
                         cc=data.get("cc"), bcc=data.get("bcc"))
