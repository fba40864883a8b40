"""Threading order: In-Reply-To/References, signed token, [#REF] from participants only, else new."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.actors import agent_actor
from helpdesk.tickets import services as tickets
from helpdesk.tickets.email.threading import make_message_id
from helpdesk.tickets.models import Conversation, Message, Status
from tests.conftest import make_agent
from tests.email.conftest import EmailInbox, mail, post_raw, run_jobs


def open_thread(app: Flask, client, inbox: EmailInbox) -> dict:
    return post_raw(client, mail(), inbox.token).get_json()


def agent_reply(app: Flask, conversation_id: str, body: str = "It ships today.") -> Message:
    agent = make_agent(app, "alice@example.com", "agent", "Alice Agent")
    with db_of(app).unit_of_work() as s:
        conv = tickets.get_conversation(s, conversation_id)
        return tickets.post_message(s, agent_actor(agent), conv, body=body)


def conversations(app: Flask) -> int:
    with db_of(app).unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(Conversation)) or 0


def reply(client, inbox: EmailInbox, **kwargs) -> dict:
    response = post_raw(client, mail(**kwargs), inbox.token)
    assert response.status_code == 202
    return response.get_json()


def reason_of(app: Flask, message_id: str) -> str:
    with db_of(app).unit_of_work() as s:
        return s.scalar(select(Message).filter_by(public_id=message_id)).meta["threaded_by"]


def test_reply_to_our_message_id_threads_by_in_reply_to(app: Flask, client, inbox: EmailInbox, smtp) -> None:
    first = open_thread(app, client, inbox)
    ours = agent_reply(app, first["conversation_id"])
    run_jobs(app)
    sent = smtp.parsed()
    body = reply(client, inbox, subject="Re: Where is my order?", message_id="<r1@example.com>",
                 headers={"In-Reply-To": sent["Message-ID"],
                          "References": f"<m1@example.com> {sent['Message-ID']}"})
    assert body["action"] == "appended" and body["conversation_id"] == first["conversation_id"]
    assert reason_of(app, body["message_id"]) == "in_reply_to"
    assert sent["Message-ID"].strip("<>") == ours.email_message_id


def test_outlook_changed_in_reply_to_still_threads_by_references(app: Flask, client,
                                                                 inbox: EmailInbox) -> None:
    first = open_thread(app, client, inbox)
    body = reply(client, inbox, subject="AW: Where is my order?", message_id="<o1@outlook.example>",
                 headers={"In-Reply-To": "<DB7PR0101MB0000.eurprd01.prod.outlook.com>",
                          "References": "<m1@example.com>"})
    assert body["conversation_id"] == first["conversation_id"]
    assert reason_of(app, body["message_id"]) == "references"


def test_our_signed_token_threads_when_the_message_id_was_never_stored(app: Flask, client,
                                                                        inbox: EmailInbox) -> None:
    first = open_thread(app, client, inbox)
    token = make_message_id(app.config["SECRET_KEY"], "helpdesk.test", first["conversation_id"], "elsewhere")
    body = reply(client, inbox, subject="something else", message_id="<t1@example.com>",
                 headers={"In-Reply-To": f"<{token}>"})
    assert body["conversation_id"] == first["conversation_id"]
    assert reason_of(app, body["message_id"]) == "signed_token"


def test_a_forged_token_opens_a_new_conversation(app: Flask, client, inbox: EmailInbox) -> None:
    first = open_thread(app, client, inbox)
    forged = f"hd.{first['conversation_id']}.x1.{'0' * 20}@helpdesk.test"
    body = reply(client, inbox, sender="mallory@evil.example", message_id="<t2@evil.example>",
                 headers={"In-Reply-To": f"<{forged}>"})
    assert body["action"] == "created" and body["conversation_id"] != first["conversation_id"]


def test_subject_ref_from_the_customer_threads(app: Flask, client, inbox: EmailInbox) -> None:
    first = open_thread(app, client, inbox)
    with db_of(app).unit_of_work() as s:
        ref = tickets.get_conversation(s, first["conversation_id"]).ref
    body = reply(client, inbox, subject=f"Fwd: my order [#{ref}]", message_id="<s1@example.com>")
    assert body["conversation_id"] == first["conversation_id"]
    assert reason_of(app, body["message_id"]) == "subject_ref"


def test_forged_subject_ref_from_a_stranger_opens_a_new_conversation(app: Flask, client,
                                                                      inbox: EmailInbox) -> None:
    first = open_thread(app, client, inbox)
    with db_of(app).unit_of_work() as s:
        ref = tickets.get_conversation(s, first["conversation_id"]).ref
    body = reply(client, inbox, sender="Mallory <mallory@evil.example>", subject=f"Re: order [#{ref}]",
                 message_id="<s2@evil.example>")
    assert body["action"] == "created" and body["conversation_id"] != first["conversation_id"]
    with db_of(app).unit_of_work() as s:
        message = s.scalar(select(Message).filter_by(public_id=body["message_id"]))
        assert "not a participant" in message.meta["threading_note"]
        assert message.conversation.customer.email == "mallory@evil.example"


def test_a_colleague_copied_on_the_thread_may_use_the_subject_ref(app: Flask, client,
                                                                  inbox: EmailInbox) -> None:
    first = post_raw(client, mail(headers={"Cc": "Bob <bob@example.com>"}), inbox.token).get_json()
    with db_of(app).unit_of_work() as s:
        ref = tickets.get_conversation(s, first["conversation_id"]).ref
    body = reply(client, inbox, sender="bob@example.com", subject=f"Re: [#{ref}]",
                 message_id="<c1@example.com>")
    assert body["conversation_id"] == first["conversation_id"]


def test_a_forwarded_mail_from_a_new_person_opens_its_own_conversation(app: Flask, client,
                                                                        inbox: EmailInbox) -> None:
    open_thread(app, client, inbox)
    forwarded = ("Hi, forwarding this.\r\n\r\n---------- Forwarded message ---------\r\n"
                 "From: Ann <ann@example.com>\r\nSubject: Where is my order?\r\n\r\nHello, where is it?")
    body = reply(client, inbox, sender="carol@example.com", subject="Fwd: Where is my order?",
                 message_id="<fw1@example.com>", body=forwarded)
    assert body["action"] == "created"
    assert conversations(app) == 2


def test_a_reply_to_a_resolved_conversation_reopens_it(app: Flask, client, inbox: EmailInbox) -> None:
    first = open_thread(app, client, inbox)
    agent = make_agent(app, "alice@example.com")
    with db_of(app).unit_of_work() as s:
        conv = tickets.get_conversation(s, first["conversation_id"])
        tickets.set_status(s, agent_actor(agent), conv, "resolved")
    body = reply(client, inbox, message_id="<late@example.com>", headers={"In-Reply-To": "<m1@example.com>"})
    assert body["conversation_id"] == first["conversation_id"]
    with db_of(app).unit_of_work() as s:
        assert tickets.get_conversation(s, first["conversation_id"]).status is Status.open
