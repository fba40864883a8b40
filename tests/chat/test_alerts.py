"""Agent alerts on /console: an @mention in a private note reaches the mentioned agent only (and is
recorded on the note), an assignment reaches the new assignee, a customer's reply the assignee."""

from __future__ import annotations

from flask import Flask

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.actors import agent_actor
from helpdesk.tickets import services as tickets
from helpdesk.tickets.mentions import mentioned_agents
from helpdesk.tickets.models import Conversation, Message
from tests.chat.conftest import Clients, received
from tests.chat.test_console_socket import shopper_writes
from tests.conftest import make_agent

C = "/console"
W = "/widget"


def _conversation(app: Flask, public_id: str) -> int:
    with db_of(app).unit_of_work() as s:
        return tickets.get_conversation(s, public_id).id


def test_mention_in_a_note_notifies_only_the_mentioned_agent(app: Flask, clients: Clients, site: str, agent: Agent,
                                                             manager: Agent, admin: Agent, logged_in) -> None:
    _w, conv_id = shopper_writes(clients, site)
    alice = clients.console(logged_in(agent.email))
    mary = clients.console(logged_in(manager.email))
    adam = clients.console(logged_in(admin.email))
    for c in (alice, mary, adam):
        c.get_received(C)
    with db_of(app).unit_of_work() as s:
        conv = s.get(Conversation, _conversation(app, conv_id))
        note = tickets.post_message(s, agent_actor(s.get(Agent, admin.id)), conv, private=True,
                                    body="@alice agent can you check the refund? (not @mary)")
        note_id = note.id
    [mention] = received(alice, "mention", C)
    assert mention["conversation_id"] == conv_id and mention["by"] == "Adam Admin"
    assert "refund" in mention["excerpt"]
    assert received(mary, "mention", C) == [] and received(adam, "mention", C) == []
    with db_of(app).unit_of_work() as s:
        assert s.get(Message, note_id).meta["mentions"] == [agent.public_id]


def test_a_public_reply_mentions_nobody(app: Flask, clients: Clients, site: str, agent: Agent, admin: Agent,
                                        logged_in) -> None:
    _w, conv_id = shopper_writes(clients, site)
    alice = clients.console(logged_in(agent.email))
    with db_of(app).unit_of_work() as s:
        conv = s.get(Conversation, _conversation(app, conv_id))
        tickets.post_message(s, agent_actor(s.get(Agent, admin.id)), conv, body="@Alice Agent will help you")
    assert received(alice, "mention", C) == []


def test_assignment_and_customer_reply_alert_the_assignee(app: Flask, clients: Clients, site: str, agent: Agent,
                                                          manager: Agent, logged_in) -> None:
    w, conv_id = shopper_writes(clients, site)
    alice = clients.console(logged_in(agent.email))
    mary = clients.console(logged_in(manager.email))
    with db_of(app).unit_of_work() as s:
        conv = s.get(Conversation, _conversation(app, conv_id))
        tickets.assign(s, agent_actor(s.get(Agent, manager.id)), conv, s.get(Agent, agent.id))
    assert [(a["kind"], a["conversation_id"]) for a in received(alice, "alert", C)] == [("assigned", conv_id)]
    assert received(mary, "alert", C) == []
    w.emit("message:send", {"client_msg_id": "2", "body": "Any news?"}, namespace=W, callback=True)
    [reply] = received(alice, "alert", C)
    assert reply["kind"] == "reply" and reply["excerpt"] == "Any news?"
    assert received(mary, "alert", C) == []


def test_mention_matching(app: Flask, agent: Agent) -> None:
    make_agent(app, "ann@example.com", "agent", "Ann Lee")
    with db_of(app).unit_of_work() as s:
        names = lambda body, **kw: sorted(a.email for a in mentioned_agents(s, body, **kw))  # noqa: E731
        assert names("hi @Ann Leeds") == []
        assert names("hi @ann lee, and @ALICE@example.com.") == ["alice@example.com", "ann@example.com"]
        assert names("mail ann@example.com") == []
        assert names("@Alice Agent", author_id=agent.id) == []
