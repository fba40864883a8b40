"""Email that works like email, through a real SMTP server (aiosmtpd): an incoming Cc is kept and
shown, replies carry To/Cc (Bcc only in the envelope), reply-all copies everyone but us, agents'
and inboxes' signatures, a new outbound email, forwarding with a note, agents' files as MIME
attachments, and the REST API's cc/bcc and multipart with its refusals."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.jobs import Job
from helpdesk.tickets import replies
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Attachment, Conversation, Delivery, Inbox, Message
from tests.conftest import csrf_token, login, make_agent
from tests.email.conftest import SUPPORT, EmailInbox, mail, post_raw, run_jobs
from tests.factories import make_conversation, make_inbox

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4 invoice"
CC_MAIL = dict(to=f"Support <{SUPPORT}>, Carol <carol@example.com>",
               headers={"Cc": f"Bob <bob@example.com>, support+x@shop.example, {SUPPORT}"})


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "CHAT_MAX_ATTACHMENT_BYTES": 4096}  # "too big" without big bodies


@pytest.fixture
def alice(app: Flask, client: FlaskClient) -> Agent:
    agent = make_agent(app, "alice@example.com", "agent", "Alice Agent")
    login(client, agent.email)
    return agent


def start(client: FlaskClient, inbox: EmailInbox, **kwargs: Any) -> str:
    answer = post_raw(client, mail(**kwargs), inbox.token).get_json()
    assert answer["action"] == "created", answer
    return answer["conversation_id"]


def agent_messages(app: Flask) -> list[Message]:
    with db_of(app).unit_of_work() as s:
        rows = s.scalars(select(Message).filter_by(author_type="agent").order_by(Message.id)).all()
        s.expunge_all()
        return list(rows)


def reply(client: FlaskClient, conversation_id: str, **fields: Any) -> Any:
    token = csrf_token(client, f"/console/c/{conversation_id}")
    files = fields.pop("files", [])
    data: dict[str, Any] = {"csrf_token": token, "private": "0", **fields}
    if files:
        data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(f"/console/c/{conversation_id}/reply", data=data, headers={"Accept": "application/json"},
                       content_type="multipart/form-data")


def test_an_incoming_cc_is_kept_shown_and_reply_all_copies_everyone_but_our_addresses(
        app: Flask, client: FlaskClient, inbox: EmailInbox, alice: Agent, smtp) -> None:
    conversation_id = start(client, inbox, **CC_MAIL)
    page = client.get(f"/console/c/{conversation_id}").get_data(as_text=True)
    cc_shown = re.search(r'<dd class="h-cc">([^<]*)</dd>', page)
    assert cc_shown and "bob@example.com" in cc_shown.group(1)
    assert "carol@example.com" in re.search(r'<dd class="h-to">([^<]*)</dd>', page).group(1)
    with db_of(app).unit_of_work() as s:
        defaults = replies.reply_defaults(s, tickets.get_conversation(s, conversation_id))
    assert defaults["reply"] == {"to": ["ann@example.com"], "cc": []}
    # Our inbox address, plus-address included, is never copied; the customer is the To.
    assert defaults["reply_all"] == {"to": ["ann@example.com"], "cc": ["carol@example.com", "bob@example.com"]}
    assert "carol@example.com, bob@example.com" in page  # the reply-all choice the box offers

    answer = reply(client, conversation_id, body="Both of you: it ships today.", to="ann@example.com",
                   cc="carol@example.com, Bob <bob@example.com>", bcc="boss@shop.example")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.get_json()["message"]["email"]["bcc"] == ["boss@shop.example"]
    assert run_jobs(app) == 1
    _from, envelope, raw = smtp.messages[0]
    sent = smtp.parsed()
    assert sent["To"] == "Ann Buyer <ann@example.com>"
    assert sent["Cc"] == "carol@example.com, bob@example.com"
    assert sent["Bcc"] is None and b"boss@shop.example" not in raw  # Bcc: the envelope only
    assert sorted(envelope) == ["ann@example.com", "bob@example.com", "boss@shop.example", "carol@example.com"]
    [stored] = agent_messages(app)
    assert stored.meta["recipients"] == {"to": ["ann@example.com"], "cc": ["carol@example.com", "bob@example.com"],
                                         "bcc": ["boss@shop.example"]}
    page = client.get(f"/console/c/{conversation_id}").get_data(as_text=True)
    assert '<dd class="h-bcc">boss@shop.example</dd>' in page


def test_a_bad_address_in_the_reply_box_is_refused_and_nothing_is_stored_or_sent(
        app: Flask, client: FlaskClient, inbox: EmailInbox, alice: Agent, smtp) -> None:
    conversation_id = start(client, inbox)
    for field, value in (("cc", "bob@example.com, not an address"), ("bcc", "eve@x.example\r\nBcc: a@b.c"),
                         ("to", "<script>@x")):
        answer = reply(client, conversation_id, body="Hi", **{field: value})
        assert answer.status_code == 422 and answer.get_json()["error"]["code"] == f"invalid_{field}"
    assert agent_messages(app) == [] and run_jobs(app) == 0 and smtp.messages == []


def test_signatures_agent_wins_over_the_inbox_template_and_only_email_replies_get_one(
        app: Flask, client: FlaskClient, inbox: EmailInbox, alice: Agent, smtp) -> None:
    admin = make_agent(app, "adam@example.com", "admin", "Adam Admin")
    conversation_id = start(client, inbox)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/console")})
    login(client, admin.email)
    token = csrf_token(client, "/admin/mail")
    client.post(f"/admin/mail/inbox/{inbox.public_id}",
                data={"csrf_token": token, "signature": "{agent_name} · Customer care at {inbox_name}"})
    client.post("/logout", data={"csrf_token": csrf_token(client, "/console")})
    login(client, alice.email)
    page = client.get(f"/console/c/{conversation_id}").get_data(as_text=True)
    assert 'id="signature-preview"' in page and "Alice Agent · Customer care at Support mail" in page
    assert reply(client, conversation_id, body="It ships today.").status_code == 201
    reply(client, conversation_id, body="VIP customer", private="1")
    token = csrf_token(client, "/settings/profile")
    client.post("/settings/signature", data={"csrf_token": token, "signature": "Alice\nShop team, +49 30 1234"})
    assert "Shop team, +49 30 1234" in client.get("/settings/profile").get_data(as_text=True)
    assert reply(client, conversation_id, body="Tracking: 123.").status_code == 201
    first, note, second = agent_messages(app)
    assert first.body_text == "It ships today.\n\n-- \nAlice Agent · Customer care at Support mail"
    assert note.body_text == "VIP customer"  # private notes are never signed
    assert second.body_text == "Tracking: 123.\n\n-- \nAlice\nShop team, +49 30 1234"
    run_jobs(app)
    assert smtp.parsed(-1).get_body(("plain",)).get_content().strip().endswith("Shop team, +49 30 1234")
    # A chat conversation's reply is not an email reply: no signature there.
    chat_inbox, _key = make_inbox(app, name="Web chat")
    chat = make_conversation(app, chat_inbox, email="cy@example.com")
    with db_of(app).unit_of_work() as s:
        message = replies.reply(s, accounts_actor(s, alice), tickets.get_conversation(s, chat.public_id),
                                body="Hello from chat")
        assert message.body_text == "Hello from chat"
        with pytest.raises(Exception, match="no Cc"):
            replies.reply(s, accounts_actor(s, alice), tickets.get_conversation(s, chat.public_id),
                          body="x", cc=["bob@example.com"])


def accounts_actor(s: Any, agent: Agent) -> Any:
    from helpdesk.actors import agent_actor

    return agent_actor(s.get(Agent, agent.id))


def test_a_new_email_starts_a_conversation_and_the_answer_threads_back_by_our_message_id(
        app: Flask, client: FlaskClient, inbox: EmailInbox, alice: Agent, smtp) -> None:
    token = csrf_token(client, "/console/compose")
    refused = client.post("/console/compose", data={"csrf_token": token, "inbox": inbox.public_id, "to": "nobody",
                                                    "subject": "x", "body": "y"})
    assert refused.status_code == 422 and "not an email address" in refused.get_data(as_text=True)
    answer = client.post("/console/compose", content_type="multipart/form-data", data={
        "csrf_token": token, "inbox": inbox.public_id, "to": "Dora <dora@example.com>", "cc": "ed@example.com",
        "subject": "Your order is ready", "body": "Hello Dora,\n\nyour order is ready.",
        "files": [(io.BytesIO(PDF), "invoice.pdf")]})
    assert answer.status_code == 303
    conversation_id = answer.headers["Location"].rsplit("/", 1)[-1]
    assert run_jobs(app) == 1
    sent = smtp.parsed()
    with db_of(app).unit_of_work() as s:
        conv = tickets.get_conversation(s, conversation_id)
        assert conv.channel.value == "email" and conv.customer.email == "dora@example.com"
        ref, [first] = conv.ref, [m.email_message_id for m in conv.messages]
    assert sent["Subject"] == f"Your order is ready [#{ref}]"  # no "Re:" on the first mail
    assert sent["To"] == "dora@example.com" and sent["Cc"] == "ed@example.com"
    assert sent["Message-ID"] == f"<{first}>" and sent["In-Reply-To"] is None
    assert [p.get_filename() for p in sent.iter_attachments()] == ["invoice.pdf"]
    # Dora answers without any [#REF] in the subject: her In-Reply-To threads it.
    back = post_raw(client, mail("thanks", sender="Dora <dora@example.com>", message_id="<d1@example.com>",
                                 headers={"In-Reply-To": f"<{first}>"}), inbox.token).get_json()
    assert back["action"] == "appended" and back["conversation_id"] == conversation_id


def test_forward_with_a_note_sends_the_original_quoted_with_its_files_and_records_it(
        app: Flask, client: FlaskClient, inbox: EmailInbox, alice: Agent, smtp) -> None:
    conversation_id = start(client, inbox)
    with db_of(app).unit_of_work() as s:
        first = tickets.get_conversation(s, conversation_id).messages[0]
        first.attachments.append(Attachment(filename="photo.png", content_type="image/png", size=len(PNG),
                                            sha256="0" * 64, data=PNG))
        message_id = first.public_id
    token = csrf_token(client, f"/console/c/{conversation_id}")
    bad = client.post(f"/console/c/{conversation_id}/forward", data={"csrf_token": token, "to": "x"},
                      headers={"Accept": "application/json"})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_to"
    answer = client.post(f"/console/c/{conversation_id}/forward", data={
        "csrf_token": token, "to": "warehouse@partner.example", "note": "Can you check the parcel?",
        "message": message_id})
    assert answer.status_code == 303
    assert run_jobs(app) == 1
    _from, envelope, _raw = smtp.messages[0]
    sent = smtp.parsed()
    assert envelope == ["warehouse@partner.example"]  # never the customer
    assert sent["Subject"].startswith("Fwd: Where is my order? [#")
    text = sent.get_body(("plain",)).get_content()
    assert text.startswith("Can you check the parcel?") and "> Hello, where is it?" in text
    assert "From: Ann Buyer <ann@example.com>" in text
    assert [p.get_filename() for p in sent.iter_attachments()] == ["photo.png"]
    [record] = agent_messages(app)
    assert record.private and record.delivery is Delivery.sent
    assert record.meta["forward"]["to"] == ["warehouse@partner.example"]
    page = client.get(f"/console/c/{conversation_id}").get_data(as_text=True)
    assert "Forwarded to</dt><dd>warehouse@partner.example" in page


def test_console_reply_with_files_goes_out_as_mime_attachments_and_bad_files_are_refused(
        app: Flask, client: FlaskClient, inbox: EmailInbox, alice: Agent, smtp) -> None:
    conversation_id = start(client, inbox)
    for files, code in (([("big.png", PNG + b"\x00" * 5000)], "file_too_big"),
                        ([("run.exe", b"MZ\x90\x00")], "file_type"),
                        ([("ok.png", PNG), ("fake.pdf", b"<html>")], "file_type")):
        answer = reply(client, conversation_id, body="Here you go", files=files)
        assert answer.status_code == 422 and answer.get_json()["error"]["code"] == code
    assert agent_messages(app) == [] and run_jobs(app) == 0
    answer = reply(client, conversation_id, body="", files=[("label.png", PNG), ("invoice.pdf", PDF)])
    assert answer.status_code == 201
    message = answer.get_json()["message"]
    assert [(a["filename"], a["content_type"]) for a in message["attachments"]] == [
        ("label.png", "image/png"), ("invoice.pdf", "application/pdf")]
    run_jobs(app)
    parts = {p.get_filename(): p for p in smtp.parsed().iter_attachments()}
    assert parts["label.png"].get_content_type() == "image/png" and parts["label.png"].get_content() == PNG
    assert parts["invoice.pdf"].get_content() == PDF
    page = client.get(f"/console/c/{conversation_id}").get_data(as_text=True)
    pid = message["attachments"][0]["id"]
    assert f'<img class="att-thumb" src="/attachments/{pid}?inline=1"' in page  # a preview, not a link only
    shown = client.get(f"/attachments/{pid}?inline=1")
    assert shown.mimetype == "image/png" and shown.data == PNG


def test_an_agents_file_in_a_chat_reaches_the_widget_with_a_signed_link(
        app: Flask, client: FlaskClient, alice: Agent) -> None:
    from helpdesk.chat.attachments import widget_message

    chat_inbox, _key = make_inbox(app, name="Web chat")
    chat = make_conversation(app, chat_inbox, email="cy@example.com")
    answer = reply(client, chat.public_id, body="See the photo", files=[("label.png", PNG)])
    assert answer.status_code == 201
    assert reply(client, chat.public_id, body="x", cc="bob@example.com").status_code == 422
    with db_of(app).unit_of_work() as s:
        message = s.scalar(select(Message).filter_by(author_type="agent"))
        [item] = widget_message(message, app.secret_key)["attachments"]
    shown = client.get(item["url"])
    assert shown.status_code == 200 and shown.mimetype == "image/png"


# -- REST ------------------------------------------------------------------------------------------

@pytest.fixture
def api_token(app: Flask, alice: Agent) -> str:
    with db_of(app).unit_of_work() as s:
        return accounts.create_api_token(s, SYSTEM, s.get(Agent, alice.id), "tests")


def test_rest_cc_bcc_and_multipart_files_and_their_refusals(
        app: Flask, client: FlaskClient, inbox: EmailInbox, api_token: str, smtp) -> None:
    conversation_id = start(client, inbox)
    auth = {"Authorization": f"Bearer {api_token}"}
    path = f"/api/v1/conversations/{conversation_id}/messages"

    def refused(answer: Any, code: str) -> None:
        assert answer.status_code == 422, answer.get_data(as_text=True)
        assert answer.get_json()["error"]["code"] == code

    refused(client.post(path, json={"body": "x", "cc": ["bob@example.com", "bad@"]}, headers=auth), "invalid_cc")
    refused(client.post(path, json={"body": "x", "bcc": "not-a-list@@"}, headers=auth), "invalid_bcc")
    refused(client.post(path, json={"body": "x", "cc": [1]}, headers=auth), "invalid_cc")
    refused(client.post(path, headers=auth, content_type="multipart/form-data", data={
        "body": "x", "files": [(io.BytesIO(b"\x00" * 5000), "big.pdf")]}), "file_too_big")
    refused(client.post(path, headers=auth, content_type="multipart/form-data", data={
        "body": "x", "files": [(io.BytesIO(b"#!/bin/sh\n"), "evil.sh")]}), "file_type")
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Message).filter_by(author_type="agent")) == 0
        assert s.scalar(select(func.count()).select_from(Attachment).where(Attachment.message_id.is_(None))) == 0
    assert run_jobs(app) == 0 and smtp.messages == []

    answer = client.post(path, json={"body": "JSON reply", "cc": ["bob@example.com"], "bcc": ["audit@shop.example"]},
                         headers=auth)
    assert answer.status_code == 201
    assert answer.get_json()["email"] == {"from": None, "to": ["ann@example.com"], "cc": ["bob@example.com"],
                                          "bcc": ["audit@shop.example"], "forward": False}
    answer = client.post(path, headers=auth, content_type="multipart/form-data", data={
        "body": "Multipart reply", "cc": ["carol@example.com"],
        "files": [(io.BytesIO(PNG), "label.png"), (io.BytesIO(PDF), "invoice.pdf")]})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert [a["filename"] for a in answer.get_json()["attachments"]] == ["label.png", "invoice.pdf"]
    assert run_jobs(app) == 2
    (_f1, env1, raw1), (_f2, _env2, _raw2) = smtp.messages
    assert sorted(env1) == ["ann@example.com", "audit@shop.example", "bob@example.com"]
    assert b"audit@shop.example" not in raw1
    assert smtp.parsed(0)["Cc"] == "bob@example.com" and smtp.parsed(1)["Cc"] == "carol@example.com"
    assert [p.get_filename() for p in smtp.parsed(1).iter_attachments()] == ["label.png", "invoice.pdf"]


def test_rest_cc_on_a_chat_conversation_is_refused(app: Flask, client: FlaskClient, api_token: str) -> None:
    chat_inbox, _key = make_inbox(app, name="Web chat")
    chat = make_conversation(app, chat_inbox, email="cy@example.com")
    answer = client.post(f"/api/v1/conversations/{chat.public_id}/messages", json={"body": "x", "cc": ["a@b.example"]},
                         headers={"Authorization": f"Bearer {api_token}"})
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "invalid_cc"
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Job).filter_by(kind="email.send")) == 0
        assert len(s.get(Conversation, chat.id).messages) == 1
        assert s.scalar(select(Inbox).filter_by(name="Web chat")) is not None


def test_a_resent_email_reply_is_stored_and_mailed_once(
        app: Flask, client: FlaskClient, inbox: EmailInbox, alice: Agent, smtp) -> None:
    conversation_id = start(client, inbox)
    for _ in range(2):
        answer = reply(client, conversation_id, body="Once", cc="bob@example.com", client_msg_id="c-1",
                       files=[("label.png", PNG)])
        assert answer.status_code == 201
    [stored] = agent_messages(app)
    assert run_jobs(app) == 1 and len(smtp.messages) == 1
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Attachment).where(
            Attachment.message_id == stored.id)) == 1
        assert s.scalar(select(func.count()).select_from(Attachment).where(Attachment.message_id.is_(None))) == 0


def test_the_email_parts_of_the_console_speak_german(app: Flask, client: FlaskClient, inbox: EmailInbox,
                                                      alice: Agent) -> None:
    conversation_id = start(client, inbox, **CC_MAIL)
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    page = client.get(f"/console/c/{conversation_id}", headers=german).get_data(as_text=True)
    assert "<dt>Von</dt>" in page and "<dt>An</dt>" in page  # the mail's headers, not a date range's "Bis"
    assert "Allen antworten" in page and "Antworten oder allen antworten" in page
    assert "Weiterleiten…" in page and "Die ganze Konversation" in page and "Reply all" not in page
    # composer.js gets its words from the page's one catalogue (i18n.js), placeholders left for the script to fill.
    strings = re.search(r'<script type="application/json" id="console-strings">(.*?)</script>', page, re.S)
    assert strings and "%(name)s entfernen" in strings.group(1)
    compose = client.get("/console/compose", headers=german).get_data(as_text=True)
    assert "Neue E-Mail" in compose and "E-Mail senden" in compose and "Betreff" in compose
    profile = client.get("/settings/profile", headers=german).get_data(as_text=True)
    assert "E-Mail-Signatur" in profile and "Signatur speichern" in profile
