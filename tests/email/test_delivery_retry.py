"""A reply whose delivery failed shows why under the message and offers Retry: a CSRF-checked POST
that queues the send again, with the same Message-ID."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.actors import agent_actor
from helpdesk.jobs import Job, JobState
from helpdesk.tickets import services as tickets
from helpdesk.tickets.email.delivery import RetryPolicy
from helpdesk.tickets.models import Delivery, Message
from tests.conftest import csrf_token, login, make_agent
from tests.email.conftest import EmailInbox, mail, post_raw, run_jobs


def failed_reply(app: Flask, client, inbox: EmailInbox, smtp) -> tuple[str, Message]:
    conversation_id = post_raw(client, mail(), inbox.token).get_json()["conversation_id"]
    agent = make_agent(app, "alice@example.com", "agent", "Alice Agent")
    with db_of(app).unit_of_work() as s:
        message = tickets.post_message(s, agent_actor(agent), tickets.get_conversation(s, conversation_id),
                                       body="It ships today.")
    smtp.refuse = "550 5.1.1 mailbox unavailable"
    run_jobs(app)
    login(client, agent.email)
    return conversation_id, message


def test_a_permanent_550_fails_at_once_and_the_reason_shows_under_the_message(
        app: Flask, client, inbox: EmailInbox, smtp) -> None:
    conversation_id, message = failed_reply(app, client, inbox, smtp)
    with db_of(app).unit_of_work() as s:
        row = s.get(Message, message.id)
        assert row.delivery is Delivery.failed and "SMTP 550: 5.1.1 mailbox unavailable" in row.delivery_error
    page = client.get(f"/console/c/{conversation_id}").get_data(as_text=True)
    block = page[page.index('class="delivery-failure"'):]
    block = block[:block.index("</div>")]
    assert "Not delivered: SMTP 550" in block and "mailbox unavailable" in block  # visible, not a tooltip
    assert f"/console/m/{message.public_id}/retry-send" in block and ">Retry</button>" in block


def test_retry_sends_again_with_the_same_message_id(app: Flask, client, inbox: EmailInbox, smtp) -> None:
    conversation_id, message = failed_reply(app, client, inbox, smtp)
    smtp.refuse = None
    token = csrf_token(client, f"/console/c/{conversation_id}")
    response = client.post(f"/console/m/{message.public_id}/retry-send", data={"csrf_token": token},
                           headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.get_json()["delivery"] == "sending"
    assert "d-sending" in client.get(f"/console/c/{conversation_id}").get_data(as_text=True)
    assert run_jobs(app) == 1
    assert len(smtp.messages) == 1
    with db_of(app).unit_of_work() as s:
        row = s.get(Message, message.id)
        assert row.delivery is Delivery.sent and row.delivery_error is None
        assert smtp.parsed()["Message-ID"] == f"<{row.email_message_id}>" == f"<{message.email_message_id}>"
    page = client.get(f"/console/c/{conversation_id}").get_data(as_text=True)
    assert 'class="delivery-failure"' not in page


def test_retry_without_csrf_or_of_a_sent_reply_changes_nothing(app: Flask, client, inbox: EmailInbox,
                                                               smtp) -> None:
    conversation_id, message = failed_reply(app, client, inbox, smtp)
    assert client.post(f"/console/m/{message.public_id}/retry-send").status_code == 400
    with db_of(app).unit_of_work() as s:
        assert s.get(Message, message.id).delivery is Delivery.failed
        assert s.scalar(select(Job).filter_by(kind="email.send", state=JobState.queued)) is None
    token = csrf_token(client, f"/console/c/{conversation_id}")
    client.post(f"/console/m/{message.public_id}/retry-send", data={"csrf_token": token})
    smtp.refuse = None
    run_jobs(app)
    again = client.post(f"/console/m/{message.public_id}/retry-send", data={"csrf_token": token},
                        headers={"Accept": "application/json"})
    assert again.status_code == 422 and again.get_json()["error"]["code"] == "not_failed"
    assert len(smtp.messages) == 1
    anonymous = app.test_client().post(f"/console/m/{message.public_id}/retry-send")
    assert anonymous.status_code in (302, 400, 401)


def test_the_retry_policy_backs_off_to_an_hour_and_gives_up_after_the_window() -> None:
    policy = RetryPolicy(retry_hours=48)
    assert [policy.delay(n) for n in (1, 2, 3, 6, 7, 8, 50)] == [60, 120, 240, 1920, 3600, 3600, 3600]
    created = datetime(2026, 12, 1, tzinfo=UTC)
    assert policy.next_attempt(created, created + timedelta(minutes=5), 3) == created + timedelta(minutes=9)
    near_end = created + timedelta(hours=47, minutes=50)
    assert policy.next_attempt(created, near_end, 40) == created + timedelta(hours=48)  # last try on the deadline
    assert policy.next_attempt(created, created + timedelta(hours=48), 41) is None
