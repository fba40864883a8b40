"""The worker recovers mails a crash left unprocessed and restarts IMAP polling that broke off."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from helpdesk import db_of, jobs
from helpdesk.db import utcnow
from helpdesk.jobs import Job, JobState
from helpdesk.tickets.email import housekeeping, imap, ingest
from helpdesk.tickets.email.models import InboundMail, MailStatus
from helpdesk.tickets.models import Conversation, Inbox
from tests.email.conftest import EmailInbox, mail, run_jobs


def store_as_if_crashed(app: Flask, inbox: EmailInbox, age: timedelta) -> int:
    with db_of(app).unit_of_work() as s:
        row = ingest.store_raw(s, mail(), transport="raw", inbox=s.get(Inbox, inbox.id), max_bytes=10**7)
        row.received_at = utcnow() - age
        return row.id


def test_a_mail_stored_before_a_crash_is_processed_by_housekeeping(app: Flask, inbox: EmailInbox, smtp) -> None:
    old = store_as_if_crashed(app, inbox, timedelta(minutes=30))
    fresh = store_as_if_crashed(app, inbox, timedelta(seconds=5))  # may still be in the works elsewhere
    with db_of(app).unit_of_work() as s:
        jobs.schedule_periodic(s, {"email.housekeeping": housekeeping.EVERY_SECONDS})
    run_jobs(app)
    with db_of(app).unit_of_work() as s:
        assert s.get(InboundMail, old).status is MailStatus.processed
        assert s.get(InboundMail, fresh).status is MailStatus.received
        assert len(s.scalars(select(Conversation)).all()) == 1


def test_an_imap_inbox_without_a_pending_poll_gets_one_and_only_one(app: Flask, inbox: EmailInbox) -> None:
    with db_of(app).unit_of_work() as s:
        row = s.get(Inbox, inbox.id)
        row.settings = {**(row.settings or {}), "imap": {"host": "127.0.0.1", "port": 1, "user": "u",
                                                         "password": "p", "folder": "INBOX", "security": "none"}}
    for _ in range(2):
        with db_of(app).unit_of_work() as s:
            housekeeping.restart_polls(s, 60)
    with db_of(app).unit_of_work() as s:
        polls = s.scalars(select(Job).filter_by(kind=imap.POLL_JOB, state=JobState.queued)).all()
        assert [p.payload["inbox_id"] for p in polls] == [inbox.id]
