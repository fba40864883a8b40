"""A chat shopper is asked for CSAT in the widget when the conversation is resolved, and answers there."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.actors import SYSTEM
from helpdesk.jobs import Worker
from helpdesk.runtime import runtime_of
from helpdesk.tickets import services as tickets
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import Conversation
from tests.chat.conftest import Clients, received

W = "/widget"


def open_chat(clients: Clients, site: str) -> tuple[object, str]:
    widget = clients.widget({"site": site})
    ack = widget.emit("message:send", {"client_msg_id": "c1", "body": "hi"}, namespace=W, callback=True)
    return widget, ack["message"]["conversation_id"]


def resolve(app: Flask, public_id: str) -> None:
    with db_of(app).unit_of_work() as s:
        tickets.set_status(s, SYSTEM, s.scalar(select(Conversation).filter_by(public_id=public_id)), "resolved")
    Worker(runtime_of(app)).run_until_idle()  # the survey job (delay 0 by default)


def test_resolve_asks_the_shopper_and_their_score_is_recorded(app: Flask, clients: Clients, site: str) -> None:
    widget, conversation_id = open_chat(clients, site)
    widget.get_received(W)
    resolve(app, conversation_id)
    assert received(widget, "csat:request", W) == [{"conversation_id": conversation_id}]
    ack = widget.emit("csat:submit", {"conversation_id": conversation_id, "score": 4, "comment": "quick"},
                      namespace=W, callback=True)
    assert ack == {"ok": True}
    with db_of(app).unit_of_work() as s:
        survey = s.scalar(select(CsatSurvey))
        assert (survey.score, survey.comment, survey.channel.value) == (4, "quick", "chat")


def test_bad_scores_and_foreign_conversations_are_refused(app: Flask, clients: Clients, site: str) -> None:
    widget, conversation_id = open_chat(clients, site)
    resolve(app, conversation_id)
    for score in (0, 6, "five"):
        ack = widget.emit("csat:submit", {"conversation_id": conversation_id, "score": score}, namespace=W,
                          callback=True)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid_score"
    other, _ = open_chat(clients, site)
    ack = other.emit("csat:submit", {"conversation_id": conversation_id, "score": 5}, namespace=W, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(CsatSurvey)).score is None


def test_after_rating_the_next_message_continues_and_reopens_the_same_conversation(
        app: Flask, clients: Clients, site: str) -> None:
    widget, conversation_id = open_chat(clients, site)
    resolve(app, conversation_id)
    assert widget.emit("csat:submit", {"conversation_id": conversation_id, "score": 5}, namespace=W,
                       callback=True) == {"ok": True}
    # A fresh connection (a reload) is told the shown conversation continues ...
    again = clients.widget({"site": site, "token": received(widget, "session", W)[0]["token"]})
    session = received(again, "session", W)[0]
    assert session["conversation"]["id"] == conversation_id and session["continues"] is True
    # ... and a message without a conversation id goes into it, reopening it (the thread stays).
    ack = again.emit("message:send", {"client_msg_id": "c2", "body": "one more thing"}, namespace=W, callback=True)
    assert ack["ok"] and ack["message"]["conversation_id"] == conversation_id
    with db_of(app).unit_of_work() as s:
        conv = s.scalar(select(Conversation).filter_by(public_id=conversation_id))
        assert conv.status.value == "open" and conv.last_seq == 2
        assert s.query(Conversation).count() == 1


def test_a_chat_resolved_long_ago_stays_closed_and_the_next_message_starts_another(
        app: Flask, clients: Clients, site: str) -> None:
    from datetime import timedelta

    from helpdesk.db import utcnow

    widget, conversation_id = open_chat(clients, site)
    resolve(app, conversation_id)
    with db_of(app).unit_of_work() as s:
        s.scalar(select(Conversation).filter_by(public_id=conversation_id)).resolved_at = utcnow() - timedelta(days=30)
    again = clients.widget({"site": site, "token": received(widget, "session", W)[0]["token"]})
    assert received(again, "session", W)[0]["continues"] is False
    ack = again.emit("message:send", {"client_msg_id": "c2", "body": "new question"}, namespace=W, callback=True)
    assert ack["ok"] and ack["message"]["conversation_id"] != conversation_id


def test_a_required_pre_chat_form_cannot_be_skipped_by_sending_a_message(
        app: Flask, clients: Clients, site: str) -> None:
    from helpdesk.tickets.models import Inbox

    with db_of(app).unit_of_work() as s:
        inbox = s.scalar(select(Inbox).filter_by(site_key=site))
        inbox.settings = {**(inbox.settings or {}), "prechat": True}
    widget = clients.widget({"site": site})
    assert received(widget, "session", W)[0]["inbox"]["prechat"] is True
    ack = widget.emit("message:send", {"client_msg_id": "c1", "body": "skip the form"}, namespace=W, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "prechat_required"
    with db_of(app).unit_of_work() as s:
        assert s.query(Conversation).count() == 0  # nothing was started
    assert widget.emit("contact:update", {"name": "Ann", "email": "ann@example.com"}, namespace=W,
                       callback=True)["ok"]
    ack = widget.emit("message:send", {"client_msg_id": "c1", "body": "now with my name"}, namespace=W, callback=True)
    assert ack["ok"]
