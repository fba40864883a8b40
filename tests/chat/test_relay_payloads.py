"""Socket traffic is built once inside the message's transaction and sent after its commit."""

from __future__ import annotations

import pytest
from flask import Flask

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.actors import agent_actor
from helpdesk.chat import relay
from helpdesk.tickets import services as tickets
from tests.chat.conftest import Clients, received

C = "/console"
W = "/widget"


@pytest.fixture(autouse=True)
def hold_the_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    # The consoles' rows go out when a test calls relay.ROWS.flush(), not when a slow moment
    # (PostgreSQL, a busy box) lets the 100 ms tick pass between two of its steps.
    monkeypatch.setattr(relay, "ROW_TICK_SECONDS", 30.0)


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
    # The first agent reply takes the unassigned conversation: that change goes out at once, and
    # the message's own row (the same state, without `changes`) is not sent again with the tick.
    assert [r["last_seq"] for r in rows] == [2] and rows[0]["customer"]["name"].startswith("Visitor ")
    assert rows[0]["assignee"]["name"] == agent.name and rows[0]["changes"]["assignee"] == [None, agent.name]
    relay.ROWS.flush()
    assert received(console, "conversations:updated", C) == []


def test_a_session_that_commits_twice_sends_each_transactions_own_row(app: Flask, clients: Clients, site: str,
                                                                      agent, logged_in) -> None:
    shopper = clients.widget({"site": site})
    conv_id = shopper.emit("message:send", {"client_msg_id": "q", "body": "Hello?"}, namespace=W,
                           callback=True)["message"]["conversation_id"]
    console = clients.console(logged_in(agent.email))
    relay.ROWS.flush()  # the opening message's row
    console.get_received(C)
    with db_of(app).sessions() as s:
        actor = agent_actor(s.get(Agent, agent.id))
        conversation = tickets.get_conversation(s, conv_id)
        tickets.post_message(s, actor, conversation, body="one")
        s.commit()
        tickets.post_message(s, actor, conversation, body="two")
        s.commit()
    relay.ROWS.flush()
    got = console.get_received(C)
    # "one" is the first agent reply: it also takes the unassigned conversation (sent at once);
    # "two" is a plain message: its row goes out with the tick.
    assert [p["args"][0]["last_seq"] for p in got if p["name"] == "conversation:updated"] == [2]
    batches = [p["args"][0]["conversations"] for p in got if p["name"] == "conversations:updated"]
    assert [[r["last_seq"] for r in rows] for rows in batches] == [[3]]


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


def test_the_rows_of_a_tick_reach_each_console_as_one_frame_latest_row_per_conversation(
        app: Flask, clients: Clients, site: str, agent, logged_in) -> None:
    shoppers = [clients.widget({"site": site}) for _ in range(3)]
    ids = [s.emit("message:send", {"client_msg_id": "q", "body": "Hello?"}, namespace=W,
                  callback=True)["message"]["conversation_id"] for s in shoppers]
    console = clients.console(logged_in(agent.email))
    relay.ROWS.flush()  # the openings' rows (each conversation also had its conversation:new)
    console.get_received(C)
    for n in range(2):  # two more messages into each conversation within one tick
        for shopper, conv_id in zip(shoppers, ids, strict=True):
            assert shopper.emit("message:send", {"client_msg_id": f"m{n}", "body": "And?", "conversation_id": conv_id},
                                namespace=W, callback=True)["ok"]
    assert received(console, "conversations:updated", C) == []  # held for the tick
    relay.ROWS.flush()
    got = console.get_received(C)
    assert [p["name"] for p in got if "conversation" in p["name"]] == ["conversations:updated"]
    rows = got[-1]["args"][0]["conversations"]
    assert sorted(r["id"] for r in rows) == sorted(ids) and {r["last_seq"] for r in rows} == {3}
    assert rows[0]["customer"]["name"].startswith("Visitor ") and "changes" not in rows[0]


def test_a_change_sent_at_once_drops_the_older_row_the_tick_holds(app: Flask, clients: Clients, site: str,
                                                                    agent, logged_in) -> None:
    shopper = clients.widget({"site": site})
    conv_id = shopper.emit("message:send", {"client_msg_id": "q", "body": "Hello?"}, namespace=W,
                           callback=True)["message"]["conversation_id"]
    console = clients.console(logged_in(agent.email))
    relay.ROWS.flush()
    console.get_received(C)
    shopper.emit("message:send", {"client_msg_id": "q2", "body": "Anyone?", "conversation_id": conv_id},
                 namespace=W, callback=True)
    claim = console.emit("claim", {"conversation_id": conv_id}, namespace=C, callback=True)
    assert claim["ok"]
    relay.ROWS.flush()
    got = console.get_received(C)
    rows = [p["args"][0] for p in got if "conversation" in p["name"]]
    assert [p["name"] for p in got if "conversation" in p["name"]] == ["conversation:updated"]
    assert rows[0]["assignee"]["name"] == agent.name and rows[0]["last_seq"] == 2
