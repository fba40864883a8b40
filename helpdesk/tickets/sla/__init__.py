"""Service levels: business-hours calendars, SLA policies and each conversation's clock.

Part of the tickets room (ARCHITECTURE.md: tickets owns SLA), kept in modules of its own:
`calendar` (pure due-time arithmetic), `models`, `services` (use cases), `serialize`,
`views` (the admin page) and this wiring. It follows the ticket events in their own transaction,
so a conversation's due times change exactly when the conversation does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.runtime import JobContext, Runtime
from helpdesk.tickets.events import ConversationCreated, ConversationUpdated, MessagePosted

SWEEP_JOB = "sla.sweep"
SWEEP_EVERY_SECONDS = 30


def sweep_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    from helpdesk.tickets.sla import services

    with ctx.db.unit_of_work() as session:
        services.sweep(session, ctx.now())


def reapply_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Open conversations follow a new or changed policy, a batch per transaction."""
    from helpdesk.tickets.sla import services

    after: int | None = int(payload.get("after_id", 0))
    while after is not None and not ctx.lease_lost:
        with ctx.db.unit_of_work() as session:
            after = services.reapply_open(session, ctx.now(), after)


def init_app(app: Any, runtime: Runtime) -> None:
    from helpdesk.tickets.models import Conversation, Message
    from helpdesk.tickets.sla import services, views

    app.register_blueprint(views.bp)
    from helpdesk.configured import configured
    from helpdesk.tickets.sla.models import SlaPolicy

    policies = configured(runtime)
    policies.watch(runtime.db.sessions, SlaPolicy)

    def any_policy(session: Session) -> bool:
        # Without a policy no clock runs: a new conversation or a message needs no SLA look-up.
        return policies.has(session, "sla:policies",
                            lambda s: s.scalar(select(SlaPolicy.id).limit(1)) is not None)

    def created(session: Session, ev: ConversationCreated) -> None:
        if not any_policy(session):
            return
        if conversation := session.get(Conversation, ev.conversation_id):
            services.on_created(session, conversation, conversation.created_at)

    def posted(session: Session, ev: MessagePosted) -> None:
        if ev.private or ev.author_type not in ("agent", "customer"):
            return
        message = session.get(Message, ev.message_id)  # in the identity map: no query
        if message is None:
            return
        if ev.author_type == "customer" and message.conversation.first_response_at is None:
            return  # before the first agent reply a customer message changes no clock: skip the look-up
        if not any_policy(session):
            return
        services.on_message(session, message.conversation, author_type=ev.author_type, at=message.created_at)

    def updated(session: Session, ev: ConversationUpdated) -> None:
        if ev.changes and (conversation := session.get(Conversation, ev.conversation_id)):
            services.on_updated(session, conversation, ev.changes, runtime.clock())

    runtime.events.subscribe_in_transaction(ConversationCreated, created)
    runtime.events.subscribe_in_transaction(MessagePosted, posted)
    runtime.events.subscribe_in_transaction(ConversationUpdated, updated)
    runtime.jobs.periodic(SWEEP_JOB, SWEEP_EVERY_SECONDS, sweep_job)
    runtime.jobs.register(services.REAPPLY_JOB, reapply_job)
