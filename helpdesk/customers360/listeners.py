"""Ticket events -> CRM push jobs. Registered by customers360.init_app; crm/ itself never sees tickets/.

The listeners run inside the ticket change's transaction, write the push job there, and hand
crm/ plain data (a ConversationPush), not ticket rows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from helpdesk.crm import sync
from helpdesk.crm.provider import ConversationPush
from helpdesk.runtime import Runtime
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
    settings: Mapping[str, Any],
    conversation_id: int,
    action: str,
    csat: dict[str, Any] | None = None,
) -> None:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return
    push = snapshot(conversation, str(settings.get("BASE_URL") or ""))
    sync.enqueue_push(session, settings, push, conversation.customer_id, action, csat)


def register(runtime: Runtime) -> None:
    """Push jobs are written inside the ticket change's own transaction: they exist exactly when
    the change does (a crash can neither lose a push nor push a change that rolled back)."""

    def run(
        action_of: Callable[[Any], str | None], csat_of: Callable[[Any], Any] = lambda ev: None
    ) -> Callable[[Session, Any], None]:
        def listener(session: Session, ev: Any) -> None:
            if sync.provider_name(runtime.settings) is None:
                return
            action = action_of(ev)
            if action is not None:
                push_conversation(session, runtime.settings, ev.conversation_id, action, csat_of(ev))

        return listener

    def on_update(ev: ConversationUpdated) -> str | None:
        if "status" not in ev.changes:
            return None
        return "resolve" if ev.changes["status"][1] == "resolved" else "update"

    runtime.events.subscribe_in_transaction(ConversationCreated, run(lambda ev: "open"))
    runtime.events.subscribe_in_transaction(ConversationUpdated, run(on_update))
    runtime.events.subscribe_in_transaction(
        CsatAnswered, run(lambda ev: "csat", lambda ev: {"score": ev.score, "comment": ev.comment}))
