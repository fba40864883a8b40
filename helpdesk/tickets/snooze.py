"""Snoozed conversations come back to the queue when their time is up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.actors import SYSTEM
from helpdesk.db import utcnow
from helpdesk.errors import Invalid
from helpdesk.runtime import JobContext, Runtime
from helpdesk.tickets.models import Conversation, Status
from helpdesk.tickets.services import set_status

WAKE_EVERY_SECONDS = 30
MAX_SNOOZE = timedelta(days=366)


def parse_local(value: str, tz_offset: str | None, now: datetime) -> datetime:
    """A picked `datetime-local` ("2026-12-03T09:00") in the agent's browser time, as UTC.

    `tz_offset` is JavaScript's getTimezoneOffset(): minutes to add to local time to get UTC."""
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid("snooze_until", "a date and time such as 2026-12-03T09:00") from None
    if local.tzinfo is not None:
        raise Invalid("snooze_until", "a local date and time without a zone")
    try:
        offset = int(tz_offset or 0)
    except ValueError:
        raise Invalid("tz_offset", "minutes, a whole number") from None
    if not -16 * 60 <= offset <= 16 * 60:
        raise Invalid("tz_offset", "between -960 and 960 minutes")
    when = (local + timedelta(minutes=offset)).replace(tzinfo=UTC)
    if when <= now:
        raise Invalid("snooze_until", "a time in the future is needed to snooze")
    if when - now > MAX_SNOOZE:
        raise Invalid("snooze_until", "at most a year ahead")
    return when


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
