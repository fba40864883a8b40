"""Snoozed conversations come back to the queue when their time is up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.actors import SYSTEM
from helpdesk.db import utcnow
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


@jobs.periodic("tickets.wake_snoozed", WAKE_EVERY_SECONDS)
def _wake(session: Session, payload: dict[str, Any]) -> None:
    wake_due(session)
