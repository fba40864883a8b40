"""Email inboxes hand new conversations out round-robin within each agent's capacity, and the
first agent reply takes an unassigned conversation (so no "Unassigned" row in the reports)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.actors import agent_actor
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Inbox
from tests.conftest import csrf_token, make_agent
from tests.factories import make_conversation, make_inbox


def email_inbox(app: Flask, members: list[Agent], limit: int = 0, auto: bool = True) -> Inbox:
    inbox, _ = make_inbox(app, "Support mail", "email", "support@shop.example")
    with db_of(app).unit_of_work() as s:
        row = s.get(Inbox, inbox.id)
        row.members = [s.get(Agent, a.id) for a in members]
        row.auto_assign, row.max_open_per_agent = auto, limit
    return inbox


def fresh(app: Flask, inbox: Inbox) -> Inbox:
    """make_conversation merges the object it is given: hand it the stored state (cursor included)."""
    with db_of(app).unit_of_work() as s:
        row = s.get(Inbox, inbox.id)
        _ = (row.members, row.settings, row.team)
        return row


def assignee(app: Flask, conv: Conversation) -> str | None:
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        return c.assignee.email if c.assignee else None


def test_email_round_robin_respects_capacity(app: Flask) -> None:
    a, b = make_agent(app, "a@example.com"), make_agent(app, "b@example.com")
    inbox = email_inbox(app, [a, b], limit=2)
    got = [assignee(app, make_conversation(app, fresh(app, inbox), email=f"c{i}@example.com")) for i in range(5)]
    assert got == ["a@example.com", "b@example.com", "a@example.com", "b@example.com", None]


def test_resolving_frees_capacity(app: Flask) -> None:
    a = make_agent(app, "a@example.com")
    inbox = email_inbox(app, [a], limit=1)
    first = make_conversation(app, fresh(app, inbox))
    assert assignee(app, make_conversation(app, fresh(app, inbox), email="x@example.com")) is None
    with db_of(app).unit_of_work() as s:
        tickets.set_status(s, agent_actor(s.get(Agent, a.id)), s.get(Conversation, first.id), "resolved")
    assert assignee(app, make_conversation(app, fresh(app, inbox), email="y@example.com")) == "a@example.com"


def test_email_without_auto_assign_stays_in_the_queue(app: Flask) -> None:
    inbox = email_inbox(app, [make_agent(app, "a@example.com")], auto=False)
    assert assignee(app, make_conversation(app, fresh(app, inbox))) is None


def test_first_agent_reply_takes_an_unassigned_conversation(app: Flask, agent: Agent) -> None:
    conv = make_conversation(app, make_inbox(app)[0])
    with db_of(app).unit_of_work() as s:
        tickets.add_note(s, agent_actor(s.get(Agent, agent.id)), s.get(Conversation, conv.id), body="hm")
    assert assignee(app, conv) is None  # a private note does not take it
    with db_of(app).unit_of_work() as s:
        tickets.post_message(s, agent_actor(s.get(Agent, agent.id)), s.get(Conversation, conv.id), body="Hi!")
    assert assignee(app, conv) == agent.email
    other = make_agent(app, "bo@example.com")
    with db_of(app).unit_of_work() as s:  # a colleague's later reply leaves it with the first agent
        tickets.post_message(s, agent_actor(s.get(Agent, other.id)), s.get(Conversation, conv.id), body="Me too")
    assert assignee(app, conv) == agent.email


def test_first_reply_taking_is_a_per_inbox_setting(app: Flask, agent: Agent) -> None:
    inbox, _ = make_inbox(app)
    with db_of(app).unit_of_work() as s:
        assert s.get(Inbox, inbox.id).assign_on_reply is True  # on by default
        s.get(Inbox, inbox.id).assign_on_reply = False
    conv = make_conversation(app, fresh(app, inbox))
    with db_of(app).unit_of_work() as s:
        tickets.post_message(s, agent_actor(s.get(Agent, agent.id)), s.get(Conversation, conv.id), body="Hi!")
    assert assignee(app, conv) is None


def test_admin_sets_email_round_robin_and_first_reply_on_the_inbox_page(app: Flask, admin_client: Any,
                                                                        agent: Agent) -> None:
    inbox, _ = make_inbox(app, "Mail", "email", "help@shop.example")
    page = f"/admin/inboxes/{inbox.public_id}/assignment"
    token = csrf_token(admin_client, page)
    with db_of(app).unit_of_work() as s:
        agent_id = s.get(Agent, agent.id).public_id
    saved = admin_client.post(page, data={"csrf_token": token, "auto_assign": "1", "max_open_per_agent": "3",
                                          "members": [agent_id]})
    assert saved.status_code == 303
    with db_of(app).unit_of_work() as s:
        row = s.get(Inbox, inbox.id)
        assert (row.auto_assign, row.max_open_per_agent, row.assign_on_reply) == (True, 3, False)
        assert [a.id for a in row.members] == [agent.id]
    bad = admin_client.post(page, data={"csrf_token": token, "max_open_per_agent": "-1"}, follow_redirects=True)
    assert "0 (no limit) to 100" in bad.get_data(as_text=True)
    assert assignee(app, make_conversation(app, fresh(app, inbox))) == agent.email
