"""Round-robin when two processes route new chats of one inbox at the same moment (PostgreSQL):
the second waits for the first to commit its cursor, so they hand the chats to different agents."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask

from helpdesk import db_of
from helpdesk.actors import SYSTEM
from helpdesk.chat import assignment
from helpdesk.crm import services as crm
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Inbox
from tests.conftest import BACKEND, make_agent

pytestmark = pytest.mark.postgres_only


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite queues its writers anyway (BEGIN IMMEDIATE)")
def test_two_chats_routed_at_the_same_moment_go_to_different_agents(app: Flask, inbox: Inbox) -> None:
    ann, bob = make_agent(app, "ann@example.com"), make_agent(app, "bob@example.com")
    db = db_of(app)
    with db.unit_of_work() as s:
        row = s.get(Inbox, inbox.id)
        row.auto_assign = True
        row.members = [s.merge(ann), s.merge(bob)]
    online = {ann.id, bob.id}

    def new_chat(s: Any, email: str) -> Any:
        customer = crm.customer_for_email(s, SYSTEM, email)
        conversation = tickets.create_conversation(s, SYSTEM, inbox=s.get(Inbox, inbox.id), customer=customer,
                                                   subject="hello")
        s.flush()
        return conversation

    chosen: dict[str, str] = {}
    first = db.sessions()
    try:
        agent = assignment.route_new(first, new_chat(first, "one@example.com"), online)
        chosen["first"] = agent.email
        # The second process routes while the first has not committed yet.
        def second() -> None:
            with db.unit_of_work() as s:
                chosen["second"] = assignment.route_new(s, new_chat(s, "two@example.com"), online).email

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second routing did not wait for the first one's cursor"
        first.commit()
        thread.join(timeout=10)
    finally:
        first.close()
    assert chosen["first"] != chosen["second"]
