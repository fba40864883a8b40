"""Socket traffic is built once inside the message's transaction and sent after its commit."""

from __future__ import annotations

from flask import Flask

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.actors import agent_actor
from helpdesk.tickets import services as tickets
from tests.chat.conftest import Clients, received

C = "/console"
W = "/widget"


def test_ack_and_emits_share_one_payload_per_audience(app: Flask, clients: Clients, site: str, agent,
                                                      logged_in) -> None:
    shopper = clients.widget({"site": site})
    mine = shopper.emit("message:send", {"client_msg_id": "q", "body": "Hello?"}, namespace=W, callback=True)
    conv_id = mine["message"]["conversation_id"]
    console = clients.console(logged_in(agent.email))
    console.emit("subscribe", {"conversation_id": conv_id}, namespace=C, callback=True)
    shopper.get_received(W)
    console.get_received(C)
    ack = console.emit("message:send", {"conversation_id": conv_id, "client_msg_id": "r", "body": "Hi"},
                       namespace=C, callback=True)
    got = console.get_received(C)  # read once: the test client hands each packet out once
    assert [p["args"][0] for p in got if p["name"] == "message:new"] == [ack["message"]]
    shopper_view = received(shopper, "message:new", W)
    assert len(shopper_view) == 1
    assert shopper_view[0] == {k: v for k, v in ack["message"].items()
                               if k not in ("private", "delivery", "delivery_error")}
    rows = [p["args"][0] for p in got if p["name"] == "conversation:updated"]
    # The row of the message, then (the first agent reply takes an unassigned conversation) the
    # row of the assignment: both of this one transaction.
    assert [r["last_seq"] for r in rows] == [2, 2] and rows[0]["customer"]["name"].startswith("Visitor ")
    assert rows[-1]["assignee"]["name"] == agent.name


def test_a_session_that_commits_twice_sends_each_transactions_own_row(app: Flask, clients: Clients, site: str,
                                                                      agent, logged_in) -> None:
    shopper = clients.widget({"site": site})
    conv_id = shopper.emit("message:send", {"client_msg_id": "q", "body": "Hello?"}, namespace=W,
                           callback=True)["message"]["conversation_id"]
    console = clients.console(logged_in(agent.email))
    console.get_received(C)
    with db_of(app).sessions() as s:
        actor = agent_actor(s.get(Agent, agent.id))
        conversation = tickets.get_conversation(s, conv_id)
        tickets.post_message(s, actor, conversation, body="one")
        s.commit()
        tickets.post_message(s, actor, conversation, body="two")
        s.commit()
    rows = received(console, "conversation:updated", C)
    # "one" is the first agent reply: it also takes the unassigned conversation (a row of its own).
    assert [r["last_seq"] for r in rows] == [2, 2, 3]


def test_nothing_is_sent_for_a_message_whose_transaction_rolls_back(app: Flask, clients: Clients, site: str,
                                                                    agent, logged_in) -> None:
    shopper = clients.widget({"site": site})
    conv_id = shopper.emit("message:send", {"client_msg_id": "q", "body": "Hello?"}, namespace=W,
                           callback=True)["message"]["conversation_id"]
    console = clients.console(logged_in(agent.email))
    console.emit("subscribe", {"conversation_id": conv_id}, namespace=C, callback=True)
    console.get_received(C)
    shopper.get_received(W)
    with db_of(app).sessions() as s:
        conversation = tickets.get_conversation(s, conv_id)
        tickets.post_message(s, agent_actor(s.get(Agent, agent.id)), conversation, body="never mind")
        s.rollback()
    assert received(console, "message:new", C) == [] and received(shopper, "message:new", W) == []
