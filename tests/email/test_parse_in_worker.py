"""Inbound webhooks store the raw mail and queue its parse job in one transaction; the worker
parses. The request waits a moment for the worker's answer (PROTOCOL.md's 202 body) and answers
`queued` with the stored mail's id when the worker is slower than that."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.jobs import Job, JobState
from helpdesk.runtime import runtime_of
from helpdesk.tickets.email import ingest
from helpdesk.tickets.email.models import InboundMail, MailStatus
from helpdesk.tickets.email.webhooks import PAUSE_CAPABILITY
from helpdesk.tickets.models import Conversation
from tests.email.conftest import EmailInbox, mail, post_raw, run_jobs, run_parse_job


def test_the_worker_answers_within_the_wait_and_the_sender_gets_the_protocol_answer(
        app: Flask, client, inbox: EmailInbox) -> None:
    pauses: list[float] = []

    def slow_worker(inbound_id: int, seconds: float) -> None:
        pauses.append(seconds)
        time.sleep(seconds)
        if len(pauses) % 3 == 0:  # the worker gets to each mail after a few polls
            run_parse_job(app, inbound_id)

    runtime_of(app).provide(PAUSE_CAPABILITY, slow_worker, replace=True)
    response = post_raw(client, mail(), inbox.token)
    assert response.status_code == 202
    body = response.get_json()
    assert body["action"] == "created" and body["conversation_id"] and body["message_id"]
    assert len(pauses) == 3 and all(0 < p <= 0.1 for p in pauses)
    again = post_raw(client, mail(), inbox.token).get_json()
    assert (again["action"], again["reason"]) == ("ignored", "duplicate")


def test_a_slow_worker_gets_queued_with_the_raw_id_and_nothing_is_parsed_in_the_request(
        app: Flask, client, inbox: EmailInbox, monkeypatch: pytest.MonkeyPatch) -> None:
    app.config["EMAIL_INGEST_WAIT_SECONDS"] = 0.3
    runtime_of(app).provide(PAUSE_CAPABILITY, lambda _id, seconds: time.sleep(seconds),  # no worker
                            replace=True)
    with monkeypatch.context() as patch:
        patch.setattr(ingest, "parse_mail", lambda *a, **k: pytest.fail("parsed in the web request"))
        started = time.monotonic()
        response = post_raw(client, mail(), inbox.token)
        waited = time.monotonic() - started
    assert response.status_code == 202 and 0.3 <= waited < 3
    body = response.get_json()
    assert body["action"] == "queued" and body["conversation_id"] is None
    with db_of(app).unit_of_work() as s:
        stored = s.scalar(select(InboundMail))
        assert body["raw_id"] == stored.public_id and stored.status is MailStatus.received
        job = s.scalar(select(Job).filter_by(kind=ingest.PARSE_JOB))
        assert job.state is JobState.queued and job.payload == {"inbound_id": stored.id}
    assert run_jobs(app) == 1  # the worker's turn
    with db_of(app).unit_of_work() as s:
        stored = s.scalar(select(InboundMail))
        assert stored.status is MailStatus.processed and stored.action == "created"
        assert s.scalar(select(Conversation)).messages[0].body_text == "Hello, where is it?"


def test_a_parse_job_run_twice_posts_once(app: Flask, client, inbox: EmailInbox) -> None:
    app.config["EMAIL_INGEST_WAIT_SECONDS"] = 0
    body = post_raw(client, mail(), inbox.token).get_json()
    assert body["action"] == "queued"
    settings = ingest.MailSettings.from_config(app.config)
    with db_of(app).unit_of_work() as s:
        inbound_id = s.scalar(select(InboundMail.id))
    first = ingest.parse_stored(db_of(app), settings, {"inbound_id": inbound_id})
    assert first is not None and first.action == "created"
    assert ingest.parse_stored(db_of(app), settings, {"inbound_id": inbound_id}) is None  # at-least-once
    with db_of(app).unit_of_work() as s:
        assert len(s.scalars(select(Conversation)).all()) == 1
