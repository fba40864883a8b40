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


def opened(clients: Clients, site: str, console_http) -> tuple[object, str, object]:  # type: ignore[no-untyped-def]
    """A shopper's new conversation and a console whose earlier traffic (and the tick) is read away."""
    shopper = clients.widget({"site": site})
    conv_id = shopper.emit("message:send", {"client_msg_id": "q", "body": "Hello?"}, namespace=W,
                           callback=True)["message"]["conversation_id"]
    console = clients.console(console_http)
    relay.ROWS.flush()
    console.get_received(C)
    return shopper, conv_id, console


def tick_rows(console) -> list[dict]:  # type: ignore[no-untyped-def]
    """The rows of every `conversations:updated` frame the console got since it was last read."""
    return [r for batch in received(console, "conversations:updated", C) for r in batch["conversations"]]


def test_ack_and_emits_share_one_payload_per_audience(app: Flask, clients: Clients, site: str, agent,
                                                      logged_in) -> None:
    shopper = clients.widget({"site": site})
    mine = shopper.emit("message:send", {"client_msg_id": "q", "body": "Hello?"}, namespace=W, callback=True)
    conv_id = mine["message"]["conversation_id"]
    console = clients.console(logged_in(agent.email))
    other_tab = clients.console(logged_in(agent.email))
    for tab in (console, other_tab):
        tab.emit("subscribe", {"conversation_id": conv_id}, namespace=C, callback=True)
        tab.get_received(C)
    shopper.get_received(W)
    ack = console.emit("message:send", {"conversation_id": conv_id, "client_msg_id": "r", "body": "Hi"},
                       namespace=C, callback=True)
    got = console.get_received(C)  # read once: the test client hands each packet out once
    # The sending tab has the message in its ack; its other tab gets the same payload as message:new.
    assert [p for p in got if p["name"] == "message:new"] == []
    assert received(other_tab, "message:new", C) == [ack["message"]]
    shopper_view = received(shopper, "message:new", W)
    assert len(shopper_view) == 1
    assert shopper_view[0] == {k: v for k, v in ack["message"].items()
                               if k not in ("private", "delivery", "delivery_error")}
    assert [p for p in got if "conversation" in p["name"]] == []  # rows wait for the tick
    relay.ROWS.flush()
    # The first agent reply takes the unassigned conversation: the change and the message's own
    # row are one row of the tick, the latest state with the change it made.
    rows = tick_rows(console)
    assert [r["last_seq"] for r in rows] == [2] and rows[0]["customer"]["name"].startswith("Visitor ")
    assert rows[0]["assignee"]["name"] == agent.name and rows[0]["changes"]["assignee"] == [None, agent.name]


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
    # "one" is the first agent reply and takes the unassigned conversation; "two" is a plain
    # message. One row leaves the tick: the second transaction's state, with the first one's change.
    batches = [p["args"][0]["conversations"] for p in got if p["name"] == "conversations:updated"]
    assert [[r["last_seq"] for r in rows] for rows in batches] == [[3]]
    assert batches[0][0]["changes"]["assignee"] == [None, agent.name]


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


def test_a_change_joins_the_row_the_tick_holds(app: Flask, clients: Clients, site: str, agent,
                                              logged_in) -> None:
    shopper, conv_id, console = opened(clients, site, logged_in(agent.email))
    shopper.emit("message:send", {"client_msg_id": "q2", "body": "Anyone?", "conversation_id": conv_id},
                 namespace=W, callback=True)
    claim = console.emit("claim", {"conversation_id": conv_id}, namespace=C, callback=True)
    assert claim["ok"]
    assert [p for p in console.get_received(C) if "conversation" in p["name"]] == []
    relay.ROWS.flush()
    got = console.get_received(C)
    assert [p["name"] for p in got if "conversation" in p["name"]] == ["conversations:updated"]
    rows = got[-1]["args"][0]["conversations"]
    assert len(rows) == 1 and rows[0]["assignee"]["name"] == agent.name and rows[0]["last_seq"] == 2
    assert rows[0]["changes"] == {"assignee": [None, agent.name]}


def test_changes_within_one_tick_merge_from_the_first_before_to_the_last_after(
        app: Flask, clients: Clients, site: str, agent, manager, logged_in) -> None:
    _shopper, conv_id, console = opened(clients, site, logged_in(manager.email))
    with db_of(app).sessions() as s:
        actor = agent_actor(s.get(Agent, manager.id))
        conversation = tickets.get_conversation(s, conv_id)
        tickets.assign(s, actor, conversation, s.get(Agent, agent.id))
        s.commit()
        tickets.set_status(s, actor, conversation, "resolved")
        s.commit()
    relay.ROWS.flush()
    rows = tick_rows(console)
    assert len(rows) == 1 and rows[0]["status"] == "resolved"
    assert rows[0]["changes"] == {"assignee": [None, agent.name], "status": ["open", "resolved"]}


def test_the_tick_sends_each_conversation_as_committed_when_it_fires(
        app: Flask, clients: Clients, site: str, agent, manager, logged_in) -> None:
    """A message's transaction only names its conversation; the tick reads the row then, so a
    change committed after the message (here: a rename of the customer) is in the row it sends,
    and a conversation erased meanwhile is left out rather than sent stale."""
    shopper = clients.widget({"site": site})
    conv_id = shopper.emit("message:send", {"client_msg_id": "q", "body": "Hello?"}, namespace=W,
                           callback=True)["message"]["conversation_id"]
    other = clients.widget({"site": site})
    gone = other.emit("message:send", {"client_msg_id": "q", "body": "Bye"}, namespace=W,
                      callback=True)["message"]["conversation_id"]
    console = clients.console(logged_in(manager.email))
    relay.ROWS.flush()
    console.get_received(C)
    for browser, conv, cid in ((shopper, conv_id, "q2"), (other, gone, "q3")):
        assert browser.emit("message:send", {"client_msg_id": cid, "body": "And?", "conversation_id": conv},
                            namespace=W, callback=True)["ok"]
    assert received(console, "conversations:updated", C) == []  # both rows wait for the tick
    with db_of(app).unit_of_work() as s:
        conversation = tickets.get_conversation(s, conv_id)
        conversation.customer.name = "Renamed Meanwhile"
        s.delete(tickets.get_conversation(s, gone))
    relay.ROWS.flush()
    rows = tick_rows(console)
    assert [(r["id"], r["last_seq"], r["customer"]["name"]) for r in rows] == [(conv_id, 2, "Renamed Meanwhile")]


def test_the_sending_tab_gets_its_message_in_the_ack_and_its_other_tabs_as_message_new(
        app: Flask, clients: Clients, site: str) -> None:
    from tests.chat.conftest import session_of

    first = clients.widget({"site": site})
    token = session_of(first)["token"]
    second = clients.widget({"site": site, "token": token})  # the same shopper in another tab
    second.get_received(W)
    ack = first.emit("message:send", {"client_msg_id": "t1", "body": "two tabs"}, namespace=W, callback=True)
    assert ack["ok"], ack
    conv_id = ack["message"]["conversation_id"]
    assert received(first, "message:new", W) == []  # one frame, not two, for the sender
    assert received(second, "message:new", W) == [ack["message"]]
    # A resend of the same id answers the stored message and sends nothing new to anyone.
    again = first.emit("message:send", {"client_msg_id": "t1", "body": "two tabs", "conversation_id": conv_id},
                       namespace=W, callback=True)
    assert again["message"] == ack["message"]
    assert received(second, "message:new", W) == []
