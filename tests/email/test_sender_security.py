"""Issue 12 findings 11, 12 and 17: who a mail is from comes only from its angle-address, only our
own signed loop header drops a mail, and acknowledgements cannot be turned into backscatter."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.tickets.email.parse import parse_mail
from helpdesk.tickets.models import Conversation, Inbox, Message
from tests.conftest import csrf_token, login, make_agent
from tests.email.conftest import EmailInbox, mail, post_raw, run_jobs


@pytest.fixture
def acknowledging(app: Flask, inbox: EmailInbox) -> EmailInbox:
    with db_of(app).unit_of_work() as s:
        row = s.get(Inbox, inbox.id)
        row.settings = {**(row.settings or {}), "acknowledge": True}
    return inbox


@pytest.mark.parametrize(("header", "address"), [
    ("ann@example.com <attacker@evil.example>", "attacker@evil.example"),
    ('"ann@example.com" <attacker@evil.example>', "attacker@evil.example"),
    ("=?utf-8?Q?Eve=0D=0ABcc:_victim2@victim.example?= <eve@evil.example>", "eve@evil.example"),
    ("=?utf-8?Q?=3Cvictim2@victim.example=3E?= <eve@evil.example>", "eve@evil.example"),
    ("=?utf-8?B?YW5uQGV4YW1wbGUuY29t?= <eve@evil.example>", "eve@evil.example"),
    ('"Eve <victim2@victim.example>" <eve@evil.example>', "eve@evil.example"),
    ("(Eve <victim2@victim.example>) <eve@evil.example>", "eve@evil.example"),
    ("Ann Buyer <ann@example.com>", "ann@example.com"),
    ("ann@example.com (Ann Buyer)", "ann@example.com"),
], ids=["bare-address-as-name", "quoted-address-as-name", "encoded-crlf-bcc", "encoded-angle", "base64-name",
        "quoted-angle", "comment-angle", "normal", "comment"])
def test_the_sender_address_comes_only_from_the_angle_address(header: str, address: str) -> None:
    parsed = parse_mail(mail(sender=header))
    assert parsed.from_email == address
    assert "\r" not in parsed.from_name and "\n" not in parsed.from_name


def test_a_display_name_holding_anns_address_neither_becomes_ann_nor_threads_into_her_conversation(
        app: Flask, client, inbox: EmailInbox) -> None:
    first = post_raw(client, mail(), inbox.token).get_json()
    with db_of(app).sessions() as s:
        ref = s.scalar(select(Conversation).filter_by(public_id=first["conversation_id"])).ref
    forged = post_raw(client, mail(subject=f"Re: order [#{ref}]", sender="ann@example.com <attacker@evil.example>",
                                   message_id="<forged@evil.example>"), inbox.token).get_json()
    assert forged["action"] == "created" and forged["conversation_id"] != first["conversation_id"]
    with db_of(app).sessions() as s:
        conversation = s.scalar(select(Conversation).filter_by(public_id=forged["conversation_id"]))
        assert conversation.customer.email == "attacker@evil.example"


def test_a_reply_to_an_encoded_crlf_display_name_goes_only_to_the_sender(app: Flask, client, inbox: EmailInbox,
                                                                          smtp) -> None:
    sender = "=?utf-8?Q?Eve=0D=0ABcc:_victim2@victim.example?= <eve@evil.example>"
    started = post_raw(client, mail(sender=sender), inbox.token).get_json()
    agent = make_agent(app, "alice@example.com")
    login(client, agent.email)
    path = f"/console/c/{started['conversation_id']}"
    client.post(f"{path}/reply", data={"csrf_token": csrf_token(client, path), "body": "Hello", "private": "0"})
    run_jobs(app)
    [(_from, rcpts, raw)] = smtp.messages
    assert rcpts == ["eve@evil.example"]
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert not any(line.lower().startswith("bcc:") for line in head.split("\r\n"))
    assert smtp.parsed()["To"].addresses[0].addr_spec == "eve@evil.example"


def test_only_our_own_signed_loop_header_drops_a_mail(app: Flask, client, inbox: EmailInbox, smtp) -> None:
    forged = post_raw(client, mail(headers={"X-Helpdesk-Loop": "helpdesk.test"}), inbox.token).get_json()
    assert forged["action"] == "created"  # a customer's mail is not dropped by a header anyone can write
    # An agent's reply carries our signed value: that mail, coming back in, is ours.
    agent = make_agent(app, "alice@example.com")
    login(client, agent.email)
    path = f"/console/c/{forged['conversation_id']}"
    client.post(f"{path}/reply", data={"csrf_token": csrf_token(client, path), "body": "Hi", "private": "0"})
    run_jobs(app)
    ours = smtp.messages[-1][2]
    with db_of(app).unit_of_work() as s:
        # The copy coming back (a forwarding loop) must not be mistaken for a duplicate of the stored reply.
        for message in s.scalars(select(Message).filter_by(author_type="agent")):
            message.email_message_id = None
    back = post_raw(client, ours, inbox.token).get_json()
    assert back["action"] == "ignored" and back["reason"] == "own_address"
    copied = parse_mail(ours).headers["x-helpdesk-loop"]
    reused = post_raw(client, mail(message_id="<other@evil.example>", headers={"X-Helpdesk-Loop": copied}),
                      inbox.token).get_json()
    assert reused["action"] == "created"  # a copied value is bound to our mail's Message-ID


def test_no_acknowledgement_goes_to_an_agents_own_address(app: Flask, client, acknowledging, smtp) -> None:
    make_agent(app, "alice@shop.example")
    body = post_raw(client, mail(sender="Alice <Alice@shop.example>"), acknowledging.token).get_json()
    assert body["action"] == "created"
    run_jobs(app)
    assert smtp.messages == []
    with db_of(app).sessions() as s:
        assert s.scalar(select(Message)).meta["auto_reply_suppressed"] == "agent"


def test_acknowledgements_are_capped_per_inbox_across_senders(app: Flask, client, acknowledging, smtp) -> None:
    app.config["EMAIL_ACK_CAP_PER_INBOX"] = 4
    for i in range(7):
        post_raw(client, mail(sender=f"forged{i}@victims.example", message_id=f"<f{i}@x.example>"),
                 acknowledging.token)
    run_jobs(app)
    assert len(smtp.messages) == 4


def test_a_replayed_signed_mailgun_request_is_refused(app: Flask, client, inbox: EmailInbox) -> None:
    from tests.email.test_transports import mailgun_form

    form = mailgun_form(mail(message_id="<replay@example.com>"))
    assert client.post("/inbound/email/mailgun", data=form).status_code == 202
    again = client.post("/inbound/email/mailgun", data=form)
    assert again.status_code == 401 and again.get_json()["error"]["code"] == "replayed_signature"
    with db_of(app).sessions() as s:
        assert len(s.scalars(select(Conversation)).all()) == 1
