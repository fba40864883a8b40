"""Floods from fresh visitors (issue 12, finding 5), at small scale: a visitor token costs nothing,
so connects, new visitors, conversations opened, `history` and `typing` are also limited per
client address and per site, not only per visitor."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask_socketio import SocketIOTestClient

from helpdesk.chat.models import ChatVisitor
from helpdesk.extensions import socketio
from helpdesk.tickets.models import Conversation
from tests.chat.conftest import Clients, received, session_of
from tests.chat.test_widget_socket import count, send

W = "/widget"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "CHAT_NEW_VISITOR_RATE_ADDRESS": "5/minute", "CHAT_NEW_VISITOR_RATE_SITE": "7/minute",
            "CHAT_CONNECT_RATE_ADDRESS": "12/minute", "CHAT_CONVERSATION_RATE_ADDRESS": "3/minute",
            "CHAT_CONVERSATION_RATE_SITE": "4/minute", "CHAT_HISTORY_RATE_VISITOR": "10/minute",
            "CHAT_TYPING_RATE_VISITOR": "5/10 seconds", "CHAT_HISTORY_PAGE": 5, "CHAT_HISTORY_MAX_CHARS": 1000}


def from_address(app: Flask, clients: Clients, auth: dict[str, Any], address: str) -> SocketIOTestClient:
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = address
    client = socketio.test_client(app, namespace=W, auth=auth, flask_test_client=http)
    clients.made.append(client)
    return client


def test_bare_connects_from_one_address_make_only_a_few_visitors(app: Flask, clients: Clients, site: str) -> None:
    connected = [clients.widget({"site": site}).is_connected(W) for _ in range(12)]
    assert connected == [True] * 5 + [False] * 7
    assert count(app, ChatVisitor) == 5
    # Another network still gets a new visitor; one who holds a token is not a new visitor.
    assert from_address(app, clients, {"site": site}, "198.51.100.7").is_connected(W)
    token = session_of(clients.made[0])["token"]
    assert from_address(app, clients, {"site": site, "token": token}, "198.51.100.7").is_connected(W)
    assert count(app, ChatVisitor) == 6


def test_new_visitors_of_one_site_are_capped_across_addresses(app: Flask, clients: Clients, site: str) -> None:
    connected = [from_address(app, clients, {"site": site}, f"198.51.100.{n}").is_connected(W) for n in range(10)]
    assert connected == [True] * 7 + [False] * 3
    assert count(app, ChatVisitor) == 7


def test_connects_from_one_address_are_capped_even_with_a_token(app: Flask, clients: Clients, site: str) -> None:
    token = session_of(clients.widget({"site": site}))["token"]
    connected = [clients.widget({"site": site, "token": token}).is_connected(W) for _ in range(12)]
    assert connected == [True] * 11 + [False]  # the first connect counted too


def test_fresh_visitors_from_one_address_open_only_a_few_conversations(
        app: Flask, clients: Clients, site: str) -> None:
    acks = []
    for n in range(5):
        visitor = from_address(app, clients, {"site": site}, "203.0.113.5")
        acks.append(send(visitor, "hello", f"fresh-{n}"))
    assert [ack["ok"] for ack in acks] == [True] * 3 + [False] * 2
    assert {ack["error"]["code"] for ack in acks[3:]} == {"rate_limited"}
    assert received(clients.made[-1], "error", W)[0]["error"]["code"] == "rate_limited"
    assert count(app, Conversation) == 3
    # A visitor with a conversation going keeps writing into it.
    assert send(clients.made[0], "still here", "more-1")["ok"]


def test_conversations_opened_on_one_site_are_capped_across_addresses(
        app: Flask, clients: Clients, site: str) -> None:
    acks = [send(from_address(app, clients, {"site": site}, f"192.0.2.{n}"), "hi", f"c{n}") for n in range(6)]
    assert [ack["ok"] for ack in acks] == [True] * 4 + [False] * 2
    assert count(app, Conversation) == 4


def test_history_is_limited_per_visitor_and_paged(app: Flask, clients: Clients, site: str) -> None:
    shopper = clients.widget({"site": site})
    conv_id = send(shopper, "first", "h0")["message"]["conversation_id"]
    for n in range(1, 8):
        assert send(shopper, f"message {n}", f"h{n}", conversation_id=conv_id)["ok"]
    # A page holds at most CHAT_HISTORY_PAGE messages and says whether more follow.
    page = shopper.emit("history", {"conversation_id": conv_id, "after_seq": 0}, namespace=W, callback=True)
    assert len(page["messages"]) == 5 and page["has_more"] is True
    rest = shopper.emit("history", {"conversation_id": conv_id, "after_seq": page["messages"][-1]["seq"]},
                        namespace=W, callback=True)
    assert rest["has_more"] is False
    seqs = [m["seq"] for m in page["messages"] + rest["messages"]]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    answers = [shopper.emit("history", {"conversation_id": conv_id, "after_seq": 0}, namespace=W, callback=True)
               for _ in range(10)]
    assert [a["ok"] for a in answers] == [True] * 8 + [False] * 2  # 10 per minute, two spent above
    assert answers[-1]["error"]["code"] == "rate_limited"


def test_a_history_page_is_bounded_by_its_text_size(app: Flask, clients: Clients, site: str) -> None:
    shopper = clients.widget({"site": site})
    conv_id = send(shopper, "x" * 600, "big0")["message"]["conversation_id"]
    for n in range(1, 4):
        send(shopper, "y" * 600, f"big{n}", conversation_id=conv_id)
    page = shopper.emit("history", {"conversation_id": conv_id, "after_seq": 0}, namespace=W, callback=True)
    assert len(page["messages"]) == 1 and page["has_more"] is True  # 1000 characters hold one 600-char message


def test_typing_is_limited_per_visitor(app: Flask, agent: Any, clients: Clients, site: str,
                                       logged_in: Any) -> None:
    shopper = clients.widget({"site": site})
    conv_id = send(shopper, "hello", "t0")["message"]["conversation_id"]
    console = clients.console(logged_in(agent.email))
    assert console.emit("subscribe", {"conversation_id": conv_id}, namespace="/console", callback=True)["ok"]
    console.get_received("/console")
    for n in range(12):
        shopper.emit("typing", {"conversation_id": conv_id, "typing": n % 2 == 0}, namespace=W)
    assert len(received(console, "typing", "/console")) == 5
