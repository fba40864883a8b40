"""The console sees an email reply's delivery change (sending -> sent / failed) without a reload."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.actors import agent_actor
from helpdesk.extensions import socketio
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation
from tests.conftest import login, make_agent
from tests.email.conftest import EmailInbox, mail, post_raw, run_jobs


def updates(client: Any) -> list[dict[str, Any]]:
    return [p["args"][0] for p in client.get_received("/console") if p["name"] == "message:updated"]


def test_console_hears_sent_and_failed(app: Flask, client, inbox: EmailInbox, smtp) -> None:
    conversation_id = post_raw(client, mail(), inbox.token).get_json()["conversation_id"]
    agent = make_agent(app, "alice@example.com", "agent", "Alice Agent")
    http = app.test_client()
    login(http, agent.email)
    console = socketio.test_client(app, namespace="/console", flask_test_client=http)
    assert console.emit("subscribe", {"conversation_id": conversation_id}, namespace="/console", callback=True)["ok"]
    with db_of(app).unit_of_work() as s:
        conv = s.scalar(select(Conversation).filter_by(public_id=conversation_id))
        sent = tickets.post_message(s, agent_actor(agent), conv, body="On its way").seq
    console.get_received("/console")
    run_jobs(app)
    assert updates(console) == [{"conversation_id": conversation_id, "seq": sent, "delivery": "sent",
                                 "delivery_error": None}]
    smtp.refuse = "550 5.1.1 mailbox unavailable"
    with db_of(app).unit_of_work() as s:
        conv = s.scalar(select(Conversation).filter_by(public_id=conversation_id))
        failed = tickets.post_message(s, agent_actor(agent), conv, body="Second try").seq
    run_jobs(app)
    [update] = updates(console)
    assert (update["seq"], update["delivery"]) == (failed, "failed") and "550" in update["delivery_error"]
    console.disconnect("/console")
