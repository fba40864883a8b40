"""Alerts for one agent, sent to their own room on /console (`agent:<id>`): a conversation given
to them, a customer's reply on a conversation they hold, and an @mention in a private note. The
console turns them into desktop notifications, a sound and a count in the tab title (alerts.js)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from helpdesk import events
from helpdesk.accounts.models import AuditEntry
from helpdesk.chat.relay import CONSOLE, Emit, _post
from helpdesk.chat.sockets import agent_room
from helpdesk.runtime import Runtime
from helpdesk.tickets.events import ConversationCreated, ConversationUpdated, MessagePosted
from helpdesk.tickets.mentions import mentioned_agents
from helpdesk.tickets.models import AuthorType, Conversation, Message

log = logging.getLogger(__name__)
EXCERPT = 140


def _about(conversation: Conversation) -> dict[str, Any]:
    return {"conversation_id": conversation.public_id, "ref": conversation.ref, "subject": conversation.subject}


def _excerpt(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT else text[:EXCERPT - 1] + "…"


def message_alerts(session: Session, ev: MessagePosted) -> list[Emit]:
    message = session.get(Message, ev.message_id)
    if message is None:
        return []
    conversation = message.conversation
    if message.private and message.author_type is AuthorType.agent:
        agents = mentioned_agents(session, message.body_text, author_id=message.author_id)
        if not agents:
            return []
        # Recorded on the note itself: who it mentioned (the console and the API can show it).
        message.meta = {**(message.meta or {}), "mentions": [a.public_id for a in agents]}
        data = {**_about(conversation), "kind": "mention", "by": message.author_name,
                "excerpt": _excerpt(message.body_text), "seq": message.seq}
        return [Emit("mention", data, CONSOLE, agent_room(a.id)) for a in agents]
    if (not message.private and message.author_type is AuthorType.customer and conversation.assignee_id
            and conversation.last_seq > 1):  # the first message is the new conversation, alerted as such
        data = {**_about(conversation), "kind": "reply", "by": message.author_name,
                "excerpt": _excerpt(message.body_text)}
        return [Emit("alert", data, CONSOLE, agent_room(conversation.assignee_id))]
    return []


def assignment_alerts(session: Session, ev: ConversationUpdated) -> list[Emit]:
    if "assignee" not in ev.changes:
        return []
    conversation = session.get(Conversation, ev.conversation_id)
    if conversation is None or conversation.assignee_id is None or _self_or_new(session, conversation):
        return []
    data = {**_about(conversation), "kind": "assigned", "by": None}
    return [Emit("alert", data, CONSOLE, agent_room(conversation.assignee_id))]


def _self_or_new(session: Session, conversation: Conversation) -> bool:
    """No alert for a conversation created in this same change (its `conversation:new` is the
    alert), nor for an agent taking it themselves (the audit entry of this change names the actor)."""
    if any(isinstance(e, ConversationCreated) and e.conversation_id == conversation.id
           for e in events.pending(session)):
        return True
    return any(isinstance(o, AuditEntry) and o.action == "conversation.update"
               and o.target_id == conversation.public_id and "assignee" in (o.data or {}).get("changes", {})
               and o.actor_type == "agent" and o.actor_id == conversation.assignee_id for o in session.new)


def wire(runtime: Runtime) -> None:
    def guarded(build: Any) -> Any:
        def handler(session: Session, ev: Any) -> None:
            try:  # an alert must never cost the change itself
                _post(session, build(session, ev))
            except Exception:
                log.exception("building the alerts of %r failed", ev)
        return handler

    runtime.events.subscribe_in_transaction(MessagePosted, guarded(message_alerts))
    runtime.events.subscribe_in_transaction(ConversationUpdated, guarded(assignment_alerts))
