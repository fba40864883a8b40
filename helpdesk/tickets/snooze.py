"""Snoozed conversations come back to the queue when their time is up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.actors import SYSTEM
from helpdesk.db import utcnow
from helpdesk.runtime import JobContext, Runtime
from helpdesk.tickets.models import Conversation, Status
from helpdesk.tickets.services import set_status

WAKE_EVERY_SECONDS = 30


def wake_due(session: Session, limit: int = 500) -> int:
    """Reopen snoozed conversations whose snooze has run out; returns how many."""
    due = session.scalars(select(Conversation).where(Conversation.status == Status.snoozed,
                                                     Conversation.snoozed_until <= utcnow())
                          .order_by(Conversation.snoozed_until).limit(limit)).all()
    for conversation in due:
        set_status(session, SYSTEM, conversation, Status.open)
    return len(due)


def wake_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    with ctx.db.unit_of_work() as session:
        wake_due(session)


def init_app(runtime: Runtime) -> None:
    runtime.jobs.periodic("tickets.wake_snoozed", WAKE_EVERY_SECONDS, wake_job)
