"""Loops and noise: auto-replies, bounces and our own mail never trigger an automatic mail."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.actors import agent_actor
from helpdesk.jobs import Job
from helpdesk.tickets import services as tickets
from helpdesk.tickets.email.filter import loop_value
from helpdesk.tickets.models import Conversation, Delivery, Inbox, Message
from tests.conftest import make_agent
from tests.email.conftest import SUPPORT, EmailInbox, mail, post_raw, run_jobs


@pytest.fixture
def acknowledging(app: Flask, inbox: EmailInbox) -> EmailInbox:
    with db_of(app).unit_of_work() as s:
        row = s.get(Inbox, inbox.id)
        row.settings = {**(row.settings or {}), "acknowledge": True}
    return inbox


def ack_jobs(app: Flask) -> int:
    with db_of(app).unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(Job).filter_by(kind="email.acknowledge")) or 0


def test_a_new_conversation_gets_one_acknowledgement_marked_auto_submitted(app: Flask, client, acknowledging,
                                                                           smtp) -> None:
    body = post_raw(client, mail(), acknowledging.token).get_json()
    run_jobs(app)
    assert len(smtp.messages) == 1
    ack = smtp.parsed()
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<m1@example.com>"
    with db_of(app).unit_of_work() as s:
        ref = s.scalar(select(Conversation).filter_by(public_id=body["conversation_id"])).ref
    assert f"[#{ref}]" in ack["Subject"]
    # A reply to the acknowledgement alone (no References) still finds its conversation.
    after_ack = mail(message_id="<after-ack@example.com>", subject="thanks",
                     headers={"In-Reply-To": ack["Message-ID"]})
    answer = post_raw(client, after_ack, acknowledging.token).get_json()
    assert answer["conversation_id"] == body["conversation_id"]


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"},
    {"Auto-Submitted": "auto-generated; type=vacation"},
    {"Precedence": "bulk"},
    {"Precedence": "junk"},
    {"Precedence": "list"},
    {"X-Autoreply": "yes"},
    {"Return-Path": "<>"},
], ids=lambda h: "-".join(f"{k}={v}" for k, v in h.items()))
def test_automatic_mail_never_triggers_an_automatic_mail(app: Flask, client, acknowledging, smtp,
                                                        headers: dict[str, str]) -> None:
    body = post_raw(client, mail(subject="Out of office", headers=headers), acknowledging.token).get_json()
    assert body["action"] == "created" and body["reason"] == "auto_reply"
    run_jobs(app)
    assert ack_jobs(app) == 0 and smtp.messages == []


def test_mail_from_our_own_address_is_ignored(app: Flask, client, acknowledging, smtp) -> None:
    body = post_raw(client, mail(sender=SUPPORT), acknowledging.token).get_json()
    assert body["action"] == "ignored" and body["reason"] == "own_address"
    signed = loop_value(app.config["SECRET_KEY"], "helpdesk.test", "l2@x")
    looped = post_raw(client, mail(message_id="<l2@x>", headers={"X-Helpdesk-Loop": signed}),
                      acknowledging.token).get_json()
    assert looped["reason"] == "own_address"
    run_jobs(app)
    assert smtp.messages == []


def test_acknowledgements_are_capped_per_sender(app: Flask, client, acknowledging, smtp) -> None:
    for i in range(5):
        post_raw(client, mail(subject=f"question {i}", message_id=f"<q{i}@example.com>"), acknowledging.token)
    run_jobs(app)
    assert len(smtp.messages) == app.config["EMAIL_AUTO_REPLY_CAP"] == 3


def dsn(original_message_id: str, recipient: str = "ann@example.com") -> bytes:
    return (f"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\nTo: {SUPPORT}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce1@mx.example.com>\r\n"
            "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
            "--b\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message "
            "could not be delivered.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example.com\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
            "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: {SUPPORT}\r\nTo: {recipient}\r\nMessage-ID: <{original_message_id}>\r\nSubject: Re: x\r\n"
            "\r\n--b--\r\n").encode()


def test_a_bounce_is_a_system_note_on_its_conversation_not_a_new_one(app: Flask, client, acknowledging,
                                                                    smtp) -> None:
    first = post_raw(client, mail(), acknowledging.token).get_json()
    run_jobs(app)  # the acknowledgement
    agent = make_agent(app, "alice@example.com")
    with db_of(app).unit_of_work() as s:
        conv = tickets.get_conversation(s, first["conversation_id"])
        reply = tickets.post_message(s, agent_actor(agent), conv, body="Answer")
    run_jobs(app)
    sent_before = len(smtp.messages)
    body = post_raw(client, dsn(reply.email_message_id), acknowledging.token).get_json()
    assert body["action"] == "appended" and body["reason"] == "bounce"
    assert body["conversation_id"] == first["conversation_id"]
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == 1
        note = s.scalar(select(Message).filter_by(public_id=body["message_id"]))
        assert note.author_type.value == "system" and note.meta["auto"] == "bounce"
        assert "550 5.1.1 user unknown" in note.body_text and "ann@example.com" in note.body_text
        assert s.get(Message, reply.id).delivery is Delivery.failed
    run_jobs(app)
    assert len(smtp.messages) == sent_before  # nothing automatic answered the bounce


def test_a_bounce_of_something_we_do_not_know_is_ignored_not_a_conversation(app: Flask, client,
                                                                            inbox: EmailInbox) -> None:
    body = post_raw(client, dsn("unknown@elsewhere"), inbox.token).get_json()
    assert body["action"] == "ignored" and body["reason"] == "bounce_unmatched"
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == 0
