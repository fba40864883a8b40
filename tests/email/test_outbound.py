"""Agents' replies go out as threaded email through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import hashlib

from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.actors import SYSTEM, agent_actor, customer_actor
from helpdesk.crm import services as crm
from helpdesk.jobs import Job
from helpdesk.tickets import services as tickets
from helpdesk.tickets.email.outbound import trim_references
from helpdesk.tickets.models import Attachment, Delivery, Message
from tests.conftest import csrf_token, login, make_agent
from tests.email.conftest import SUPPORT, EmailInbox, mail, post_raw, run_jobs
from tests.factories import make_inbox


def start(app: Flask, client, inbox: EmailInbox) -> str:
    return post_raw(client, mail(), inbox.token).get_json()["conversation_id"]


def test_agent_reply_is_a_job_written_with_the_message_and_goes_out_threaded(
        app: Flask, client, inbox: EmailInbox, smtp) -> None:
    conversation_id = start(app, client, inbox)
    agent = make_agent(app, "alice@example.com", "agent", "Alice Agent")
    login(client, agent.email)
    token = csrf_token(client, f"/console/c/{conversation_id}")
    client.post(f"/console/c/{conversation_id}/reply",
                data={"csrf_token": token, "body": "It ships today.\n\nAlice", "private": "0"})
    with db_of(app).unit_of_work() as s:
        message = s.scalar(select(Message).filter_by(author_type="agent"))
        job = s.scalar(select(Job).filter_by(kind="email.send"))
        assert job is not None and job.payload == {"message_id": message.id}
        assert message.delivery is Delivery.sending and message.email_message_id.endswith("@helpdesk.test")
        ref = message.conversation.ref
    assert "sending" in client.get(f"/console/c/{conversation_id}").get_data(as_text=True)
    assert run_jobs(app) == 1
    envelope_from, rcpts, _raw = smtp.messages[0]
    sent = smtp.parsed()
    assert rcpts == ["ann@example.com"] and envelope_from == SUPPORT
    assert sent["Subject"] == f"Re: Where is my order? [#{ref}]"
    assert sent["In-Reply-To"] == "<m1@example.com>" and sent["References"] == "<m1@example.com>"
    assert sent["Message-ID"] == f"<{message.email_message_id}>"
    assert sent["Auto-Submitted"] is None
    assert sent.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() == "It ships today.\n\nAlice"
    assert "<p>It ships today.</p>" in sent.get_body(("html",)).get_content()
    with db_of(app).unit_of_work() as s:
        assert s.get(Message, message.id).delivery is Delivery.sent
    assert "sent" in client.get(f"/console/c/{conversation_id}").get_data(as_text=True)


def test_private_notes_never_leave(app: Flask, client, inbox: EmailInbox, smtp) -> None:
    conversation_id = start(app, client, inbox)
    agent = make_agent(app, "alice@example.com")
    with db_of(app).unit_of_work() as s:
        tickets.add_note(s, agent_actor(agent), tickets.get_conversation(s, conversation_id), body="VIP")
    assert run_jobs(app) == 0 and smtp.messages == []


def test_a_rolled_back_reply_leaves_no_job(app: Flask, client, inbox: EmailInbox, smtp) -> None:
    conversation_id = start(app, client, inbox)
    agent = make_agent(app, "alice@example.com")
    s = db_of(app).sessions()
    tickets.post_message(s, agent_actor(agent), tickets.get_conversation(s, conversation_id), body="draft")
    s.rollback()
    s.close()
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(Job).filter_by(kind="email.send")) is None


def test_attachments_and_html_alternative_go_out(app: Flask, client, inbox: EmailInbox, smtp) -> None:
    conversation_id = start(app, client, inbox)
    agent = make_agent(app, "alice@example.com")
    data = b"%PDF-1.4 invoice"
    with db_of(app).unit_of_work() as s:
        att = Attachment(filename="invoice.pdf", content_type="application/pdf", size=len(data),
                         sha256=hashlib.sha256(data).hexdigest(), data=data)
        tickets.post_message(s, agent_actor(agent), tickets.get_conversation(s, conversation_id),
                             body="Invoice attached", attachments=[att])
    run_jobs(app)
    sent = smtp.parsed()
    files = [(p.get_filename(), p.get_content()) for p in sent.iter_attachments()]
    assert files == [("invoice.pdf", data)]


def test_crlf_in_subject_and_display_name_cannot_inject_headers(app: Flask, client, inbox: EmailInbox,
                                                                smtp) -> None:
    agent = make_agent(app, "alice@example.com", name="Alice\r\nBcc: victim@example.com")
    with db_of(app).unit_of_work() as s:
        from helpdesk.tickets.models import Inbox

        customer = crm.customer_for_email(s, SYSTEM, "ann@example.com", "Ann\r\nX-Evil: 1")
        conv = tickets.create_conversation(s, customer_actor(customer), inbox=s.get(Inbox, inbox.id),
                                           customer=customer, subject="Hi\r\nBcc: victim@example.com",
                                           body="hello")
        conv.subject = "Hi\r\nBcc: victim@example.com"  # even if a subject slipped past the service
        tickets.post_message(s, agent_actor(agent), conv, body="answer")
    run_jobs(app)
    _from, rcpts, raw = smtp.messages[0]
    assert rcpts == ["ann@example.com"]
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc:" not in head and b"\nX-Evil:" not in head
    assert smtp.parsed()["Subject"].startswith("Re: Hi Bcc: victim@example.com [#")


def test_temporary_smtp_failure_retries_and_a_permanent_one_shows_failed(app: Flask, client,
                                                                         inbox: EmailInbox, smtp) -> None:
    conversation_id = start(app, client, inbox)
    agent = make_agent(app, "alice@example.com")
    with db_of(app).unit_of_work() as s:
        message = tickets.post_message(s, agent_actor(agent), tickets.get_conversation(s, conversation_id),
                                       body="answer")
    smtp.refuse = "451 4.3.0 try again later"
    run_jobs(app)
    with db_of(app).unit_of_work() as s:
        row = s.get(Message, message.id)
        assert row.delivery is Delivery.sending and "451" in row.delivery_error
        retry = s.scalars(select(Job).filter_by(kind="email.send", state="queued")).one()
        retry.run_at = retry.created_at  # due now, instead of after the backoff
    smtp.refuse = "550 5.1.1 no such user"
    run_jobs(app)
    with db_of(app).unit_of_work() as s:
        row = s.get(Message, message.id)
        assert row.delivery is Delivery.failed and "550" in row.delivery_error
    assert smtp.messages == []


def test_references_are_trimmed_keeping_the_root_and_the_latest() -> None:
    ids = [f"{i:04d}-{'x' * 60}@example.com" for i in range(100)]
    kept = trim_references(ids)
    assert kept[0] == ids[0] and kept[-1] == ids[-1]
    assert len(" ".join(f"<{i}>" for i in kept)) <= 1800 and len(kept) < 100


def test_the_customers_answer_to_our_mail_lands_in_the_same_conversation(app: Flask, client,
                                                                         inbox: EmailInbox, smtp) -> None:
    conversation_id = start(app, client, inbox)
    agent = make_agent(app, "alice@example.com")
    with db_of(app).unit_of_work() as s:
        tickets.post_message(s, agent_actor(agent), tickets.get_conversation(s, conversation_id), body="Hi")
    run_jobs(app)
    sent = smtp.parsed()
    answer = mail(subject=sent["Subject"].replace("Re:", "RE:"), message_id="<a2@example.com>",
                  headers={"In-Reply-To": sent["Message-ID"],
                           "References": sent["References"] + " " + sent["Message-ID"]})
    assert post_raw(client, answer, inbox.token).get_json()["conversation_id"] == conversation_id


def test_an_offline_shoppers_chat_gets_answers_by_email_and_their_reply_lands_back(
        app: Flask, client, inbox: EmailInbox, smtp) -> None:
    chat, _key = make_inbox(app, name="Web chat", channel="chat")
    agent = make_agent(app, "alice@example.com")
    with db_of(app).unit_of_work() as s:
        from helpdesk.tickets.models import Inbox

        customer = crm.customer_for_email(s, SYSTEM, "shopper@example.com", "Sam Shopper")
        conv = tickets.create_conversation(s, customer_actor(customer), inbox=s.get(Inbox, chat.id),
                                           customer=customer, body="Do you ship to Norway?")
        conv_id = conv.public_id
        conv.messages[0].created_at = conv.messages[0].created_at.replace(year=2020)  # the shopper left
    with db_of(app).unit_of_work() as s:
        tickets.post_message(s, agent_actor(agent), tickets.get_conversation(s, conv_id), body="Yes, we do!")
    run_jobs(app)
    assert smtp.messages, "the offline shopper should get the answer by email"
    sent = smtp.parsed()
    assert sent["To"].addresses[0].addr_spec == "shopper@example.com"
    assert sent["From"].addresses[0].addr_spec == SUPPORT  # a chat inbox has no address of its own
    answer = mail(sender="Sam <shopper@example.com>", subject=sent["Subject"],
                  message_id="<sam1@example.com>", body="Great, thanks",
                  headers={"In-Reply-To": sent["Message-ID"]})
    body = post_raw(client, answer, inbox.token).get_json()
    assert body["conversation_id"] == conv_id and body["action"] == "appended"


def test_chat_without_smtp_configured_stays_chat(app_config, tmp_path) -> None:
    from helpdesk import create_app

    app = create_app({**app_config, "SMTP_URL": None})
    try:
        chat, _key = make_inbox(app, name="Web chat", channel="chat")
        agent = make_agent(app, "alice@example.com")
        with db_of(app).unit_of_work() as s:
            from helpdesk.tickets.models import Inbox

            customer = crm.customer_for_email(s, SYSTEM, "shopper@example.com")
            conv = tickets.create_conversation(s, customer_actor(customer), inbox=s.get(Inbox, chat.id),
                                               customer=customer, body="Hi")
            message = tickets.post_message(s, agent_actor(agent), conv, body="Hello!")
        with db_of(app).unit_of_work() as s:
            assert s.scalar(select(Job).filter_by(kind="email.send")) is None
            assert s.get(Message, message.id).delivery is None
    finally:
        db_of(app).dispose()


def test_a_reply_through_the_rest_api_goes_out_by_email_too(app: Flask, client, inbox: EmailInbox,
                                                             smtp) -> None:
    from helpdesk.accounts import services as accounts

    conversation_id = start(app, client, inbox)
    agent = make_agent(app, "alice@example.com")
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.merge(agent), "test")
    response = client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"body": "Via the API"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.get_json()
    run_jobs(app)
    assert smtp.parsed().get_body(("plain",)).get_content().strip() == "Via the API"
