"""Every few minutes the worker mends what a crash can leave behind in the email channel:
mails stored but never processed, and IMAP inboxes whose chain of polls broke off."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.db import utcnow
from helpdesk.jobs import Job, JobState
from helpdesk.runtime import JobContext
from helpdesk.tickets.email import imap, ingest
from helpdesk.tickets.email.models import InboundMail, MailStatus

log = logging.getLogger(__name__)
EVERY_SECONDS = 300
STUCK_AFTER = timedelta(minutes=10)  # a live delivery processes its mail within seconds
BATCH = 100


def stuck_mails(session: Session, limit: int = BATCH) -> list[int]:
    """Mails stored but still unprocessed long after arrival: their process died mid-way."""
    return list(session.scalars(select(InboundMail.id).where(
        InboundMail.status == MailStatus.received, InboundMail.received_at < utcnow() - STUCK_AFTER)
        .order_by(InboundMail.received_at).limit(limit)))


def restart_polls(session: Session, every: float) -> int:
    """An IMAP inbox with no pending poll gets one (the first start, or a chain that broke)."""
    pending = {int(j.payload.get("inbox_id", 0)) for j in session.scalars(
        select(Job).where(Job.kind == imap.POLL_JOB, Job.state.in_([JobState.queued, JobState.running])))}
    started = 0
    for inbox in imap.imap_inboxes(session):
        if inbox.id not in pending:
            imap.schedule_poll(session, inbox.id, every=every, delay=0)
            started += 1
    return started


def housekeeping(ctx: JobContext, payload: dict[str, Any]) -> None:
    db, settings = ctx.db, ingest.MailSettings.from_config(ctx.settings)
    with db.unit_of_work() as session:
        restart_polls(session, float(ctx.settings.get("IMAP_POLL_SECONDS") or 60))
        ids = stuck_mails(session)
    # The polls are queued; each mail below is processed in its own transactions.
    for inbound_id in ids:
        outcome = ingest.process_stored(db, inbound_id, settings)
        log.info("recovered stuck inbound mail %s: %s", inbound_id, outcome.action)
