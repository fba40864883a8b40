"""Replies during an SMTP outage, like a mail server's queue: temporary failures retry with capped
backoff (1 min ... 1 h) for HELPDESK_SMTP_RETRY_HOURS after the reply was written, on the
runtime's clock (faked here); the mail is delivered exactly once when SMTP comes back, with the
Message-ID stored before the first attempt; giving up leaves the job dead and the reply failed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.actors import agent_actor
from helpdesk.db import utcnow
from helpdesk.jobs import Job, JobState
from helpdesk.runtime import runtime_of
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Delivery, Message
from tests.conftest import make_agent
from tests.email.conftest import EmailInbox, SmtpSink, mail, post_raw, run_jobs
from tests.servers import free_port


class FakeClock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def down_port() -> int:
    return free_port()  # nothing listens here until the test starts a server: connection refused


@pytest.fixture
def app_config(app_config: dict[str, Any], down_port: int) -> dict[str, Any]:
    return {**app_config, "SMTP_URL": f"smtp://127.0.0.1:{down_port}"}


@pytest.fixture
def clock(app: Flask) -> Iterator[FakeClock]:
    fake = FakeClock()
    runtime_of(app).clock = fake
    yield fake


def reply(app: Flask, client, inbox: EmailInbox, clock: FakeClock) -> Message:
    conversation_id = post_raw(client, mail(), inbox.token).get_json()["conversation_id"]
    agent = make_agent(app, "alice@example.com", "agent", "Alice Agent")
    with db_of(app).unit_of_work() as s:
        message = tickets.post_message(s, agent_actor(agent), tickets.get_conversation(s, conversation_id),
                                       body="It ships today.")
    clock.now = max(clock.now, utcnow())  # the fake clock starts when the reply is written
    return message


def send_job(app: Flask) -> Job:
    with db_of(app).unit_of_work() as s:
        return s.scalars(select(Job).filter_by(kind="email.send")).one()


def advance_to_next_try(app: Flask, clock: FakeClock) -> None:
    job = send_job(app)
    assert job.state is JobState.queued, (job.state, job.last_error)
    clock.now = max(clock.now, job.run_at)


def test_a_reply_written_during_a_two_hour_outage_is_delivered_once(app: Flask, client, inbox: EmailInbox,
                                                                    clock: FakeClock, down_port: int) -> None:
    message = reply(app, client, inbox, clock)
    with db_of(app).unit_of_work() as s:
        stored_id = s.get(Message, message.id).email_message_id
    assert stored_id  # stored with the message, before any attempt
    outage_ends = clock.now + timedelta(hours=2)
    tries = []
    while clock.now < outage_ends:
        assert run_jobs(app) == 1
        tries.append(clock.now)
        with db_of(app).unit_of_work() as s:
            row = s.get(Message, message.id)
            assert row.delivery is Delivery.sending and "retrying" in row.delivery_error
            assert row.email_message_id == stored_id
        advance_to_next_try(app, clock)
    gaps = [round((b - a).total_seconds() / 60) for a, b in pairwise(tries)]
    assert gaps == [1, 2, 4, 8, 16, 32]  # capped at an hour next
    assert send_job(app).attempts == 0  # waiting for the other side uses up no attempt
    sink = SmtpSink(port=down_port)
    controller = Controller(sink, hostname="127.0.0.1", port=down_port)
    controller.start()
    try:
        assert run_jobs(app) == 1
        for _ in range(3):  # the worker keeps running: nothing goes out twice
            clock.now += timedelta(hours=1)
            run_jobs(app)
        assert len(sink.messages) == 1
        assert sink.parsed()["Message-ID"] == f"<{stored_id}>"
    finally:
        controller.stop()
    with db_of(app).unit_of_work() as s:
        row = s.get(Message, message.id)
        assert row.delivery is Delivery.sent and row.delivery_error is None
    assert send_job(app).state is JobState.done


def test_after_the_retry_window_the_job_is_dead_and_the_reply_failed_with_the_reason(
        app: Flask, client, inbox: EmailInbox, clock: FakeClock) -> None:
    app.config["SMTP_RETRY_HOURS"] = 6
    message = reply(app, client, inbox, clock)
    for _ in range(30):
        run_jobs(app)
        if send_job(app).state is JobState.dead:
            break
        advance_to_next_try(app, clock)
    job = send_job(app)
    assert job.state is JobState.dead and "gave up after" in job.last_error and "over 6 h" in job.last_error
    assert "ConnectionRefusedError" in job.last_error
    with db_of(app).unit_of_work() as s:
        row = s.get(Message, message.id)
        assert row.delivery is Delivery.failed and row.delivery_error == job.last_error
        assert row.created_at + timedelta(hours=6) <= clock.now < row.created_at + timedelta(hours=7)


def test_a_permanent_550_makes_the_job_dead_at_once(app: Flask, client, inbox: EmailInbox, clock: FakeClock,
                                                    down_port: int) -> None:
    sink = SmtpSink(port=down_port, refuse="550 5.1.1 no such user")
    controller = Controller(sink, hostname="127.0.0.1", port=down_port)
    controller.start()
    try:
        message = reply(app, client, inbox, clock)
        assert run_jobs(app) == 1
    finally:
        controller.stop()
    job = send_job(app)
    assert job.state is JobState.dead and job.last_error == "SMTP 550: 5.1.1 no such user"
    with db_of(app).unit_of_work() as s:
        row = s.get(Message, message.id)
        assert row.delivery is Delivery.failed and row.delivery_error == "SMTP 550: 5.1.1 no such user"


def test_a_send_repeated_after_a_crash_carries_the_same_message_id(app: Flask, client, inbox: EmailInbox,
                                                                   clock: FakeClock, down_port: int,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from helpdesk.tickets.email import outbound

    sink = SmtpSink(port=down_port)
    controller = Controller(sink, hostname="127.0.0.1", port=down_port)
    controller.start()
    try:
        message = reply(app, client, inbox, clock)
        with monkeypatch.context() as patch:
            # The worker dies after the SMTP server took the mail, before it could note that.
            patch.setattr(outbound.log, "info", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
            assert run_jobs(app) == 1
        assert len(sink.messages) == 1
        advance_to_next_try(app, clock)  # the job comes back (as after a lost lease)
        assert run_jobs(app) == 1
        assert len(sink.messages) == 2
        first, second = sink.parsed(0)["Message-ID"], sink.parsed(1)["Message-ID"]
        with db_of(app).unit_of_work() as s:
            assert first == second == f"<{s.get(Message, message.id).email_message_id}>"
    finally:
        controller.stop()
