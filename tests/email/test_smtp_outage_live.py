"""A real 90 s SMTP outage against `helpdesk run` and its worker: the reply written at the start
of it reaches the customer exactly once when the SMTP server comes back. The slow test of the
email suite (about two minutes): the retry waits are shortened by setting (5 s doubling to 15 s),
the outage is real time, nothing is faked."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller
from sqlalchemy import select

from helpdesk.accounts import services as accounts
from helpdesk.actors import SYSTEM
from helpdesk.db import Database
from helpdesk.jobs import Job, JobState
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Delivery, Message
from tests.conftest import PASSWORD, start_live_server, stop_live_server
from tests.email.conftest import SmtpSink, mail
from tests.servers import free_port, wait_until

OUTAGE_SECONDS = 90


@pytest.mark.slow
# Real time costs 90 s a pass: it runs once, in scripts/test's SQLite pass (the fake-clock outage
# tests in test_smtp_outage.py run on both engines).
@pytest.mark.skipif(os.environ.get("HELPDESK_TEST_DB") == "postgresql",
                    reason="the real 90 s outage runs once, in the SQLite pass")
def test_a_reply_during_a_90_second_outage_is_delivered_once(database_url: str, tmp_path: Path) -> None:
    port = free_port()  # the SMTP server is down: nothing listens here yet
    server = start_live_server(tmp_path, database_url, env={
        "HELPDESK_SMTP_URL": f"smtp://127.0.0.1:{port}", "HELPDESK_EMAIL_DOMAIN": "helpdesk.test",
        "HELPDESK_SMTP_RETRY_FIRST_SECONDS": "5", "HELPDESK_SMTP_RETRY_MAX_SECONDS": "15"})
    db = Database(database_url)
    controller = None
    try:
        with db.unit_of_work() as s:
            agent = accounts.create_agent(s, SYSTEM, email="alice@example.com", password=PASSWORD, role="agent",
                                          name="Alice Agent")
            api_token = accounts.create_api_token(s, SYSTEM, agent, "outage test")
            _inbox, ingest_token = tickets.create_inbox(s, SYSTEM, name="Support mail", channel="email",
                                                        address="support@shop.example")
        answer = requests.post(f"{server.url}/inbound/email/raw", data=mail(), timeout=30,
                               headers={"Authorization": f"Bearer {ingest_token}"})
        assert answer.status_code == 202 and answer.json()["action"] == "created", answer.text
        conversation_id = answer.json()["conversation_id"]
        outage_started = time.monotonic()
        posted = requests.post(f"{server.url}/api/v1/conversations/{conversation_id}/messages",
                               json={"body": "It ships today."}, timeout=30,
                               headers={"Authorization": f"Bearer {api_token}"})
        assert posted.status_code == 201, posted.text

        def attempts() -> int:
            with db.unit_of_work() as s:
                row = s.scalar(select(Message).filter_by(author_type="agent"))
                return int(row.meta.get("send_attempts", 0)) if row else 0

        wait_until(lambda: attempts() >= 3, timeout=60, message="three failed attempts during the outage")
        with db.unit_of_work() as s:
            row = s.scalar(select(Message).filter_by(author_type="agent"))
            assert row.delivery is Delivery.sending and "ConnectionRefusedError" in row.delivery_error
            message_id = row.email_message_id
        # The outage lasts its 90 s of real time; then the SMTP server is back on the same port.
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
        sink = SmtpSink(port=port)
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        wait_until(lambda: len(sink.messages) >= 1, timeout=40, message="the reply after the outage")

        def settled() -> bool:
            with db.unit_of_work() as s:
                job = s.scalars(select(Job).filter_by(kind="email.send")).one()
                return job.state is JobState.done

        wait_until(settled, timeout=20, message="the send job to finish")
        assert len(sink.messages) == 1
        assert sink.parsed()["Message-ID"] == f"<{message_id}>"
        with db.unit_of_work() as s:
            row = s.scalar(select(Message).filter_by(author_type="agent"))
            assert row.delivery is Delivery.sent and row.delivery_error is None
            assert row.meta["send_attempts"] >= 5  # it kept trying all along
    finally:
        if controller is not None:
            controller.stop()
        db.dispose()
        stop_live_server(server)
