"""Ticket events -> CRM push jobs. Registered by create_app; crm/ itself never sees tickets/.

The listeners run inside the ticket change's transaction, write the push job there, and hand
crm/ plain data (a ConversationPush), not ticket rows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from helpdesk.crm import sync
from helpdesk.crm.provider import ConversationPush
from helpdesk.tickets.events import ConversationCreated, ConversationUpdated, CsatAnswered
from helpdesk.tickets.models import Conversation

log = logging.getLogger(__name__)
MAX_TRANSCRIPT = 60_000


def snapshot(conversation: Conversation, base_url: str = "") -> ConversationPush:
    public = [m for m in conversation.messages if not m.private]
    lines = [
        f"[{m.created_at:%Y-%m-%d %H:%M} UTC] {m.author_name or m.author_type.value}: {m.body_text}"
        for m in public
    ]
    transcript = "\n".join(lines)
    if len(transcript) > MAX_TRANSCRIPT:
        transcript = transcript[:MAX_TRANSCRIPT] + "\n[… truncated]"
    customer = conversation.customer
    return ConversationPush(
        conversation_id=conversation.id,
        ref=conversation.ref,
        subject=conversation.subject,
        status=conversation.status.value,
        channel=conversation.channel.value,
        customer_email=customer.email,
        customer_name=customer.name,
        transcript=transcript,
        first_message=public[0].body_text if public else "",
        url=f"{base_url.rstrip('/')}/console/c/{conversation.public_id}" if base_url else None,
    )


def push_conversation(
    session: Session,
    conversation_id: int,
    action: str,
    base_url: str = "",
    csat: dict[str, Any] | None = None,
) -> None:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return
    sync.enqueue_push(session, snapshot(conversation, base_url), conversation.customer_id, action, csat)


def register(dispatcher: Any, base_url: str) -> None:
    """Push jobs are written inside the ticket change's own transaction: they exist exactly when
    the change does (a crash can neither lose a push nor push a change that rolled back)."""

    def run(
        action_of: Callable[[Any], str | None], csat_of: Callable[[Any], Any] = lambda ev: None
    ) -> Callable[[Session, Any], None]:
        def listener(session: Session, ev: Any) -> None:
            if sync.provider_name() is None:
                return
            action = action_of(ev)
            if action is not None:
                push_conversation(session, ev.conversation_id, action, base_url, csat_of(ev))

        return listener

    def on_update(ev: ConversationUpdated) -> str | None:
        if "status" not in ev.changes:
            return None
        return "resolve" if ev.changes["status"][1] == "resolved" else "update"

    dispatcher.subscribe_in_transaction(ConversationCreated, run(lambda ev: "open"))
    dispatcher.subscribe_in_transaction(ConversationUpdated, run(on_update))
    dispatcher.subscribe_in_transaction(
        CsatAnswered, run(lambda ev: "csat", lambda ev: {"score": ev.score, "comment": ev.comment}))
