"""The widget's order events on /widget: a verified shopper's own orders, a lookup by number and
email for anyone else, and picking an order to ask about."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.orders.models import ConversationOrder, LinkState
from helpdesk.tickets.models import Conversation, Inbox
from tests.chat.conftest import Clients, session_of
from tests.factories import make_conversation
from tests.orders.conftest import make_order

W = "/widget"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "ORDER_LOOKUP_RATE": "5/minute"}


def sign(inbox: Inbox, email: str) -> str:
    return hmac.new(inbox.secret.encode(), email.encode(), hashlib.sha256).hexdigest()


def verified(clients: Clients, inbox: Inbox, site: str, email: str = "ann@example.com") -> Any:
    client = clients.widget({"site": site, "identity": {"email": email, "hmac": sign(inbox, email)}})
    assert session_of(client)["visitor"]["verified"] is True
    return client


def ask(client: Any, event: str, data: Any = None) -> dict[str, Any]:
    return client.emit(event, data, namespace=W, callback=True)


def links(app: Flask, conversation_id: str) -> list[tuple[str, LinkState, str]]:
    with db_of(app).sessions() as s:
        conv = s.scalar(select(Conversation).filter_by(public_id=conversation_id))
        return [(link.order.number, link.state, link.source)
                for link in s.scalars(select(ConversationOrder).filter_by(conversation_id=conv.id))]


def test_verified_shopper_lists_only_their_own_orders_newest_first(
        app: Flask, clients: Clients, inbox: Inbox, site: str) -> None:
    make_order(app, 1001, "ann@example.com")
    make_order(app, 1002, "ann@example.com")
    make_order(app, 1003, "bob@example.com")
    answer = ask(verified(clients, inbox, site), "orders:list", {})
    assert answer["ok"] is True
    assert sorted(o["number"] for o in answer["orders"]) == ["1001", "1002"]
    shown = answer["orders"][0]
    assert {"number", "placed_at", "total", "currency", "status", "line_items", "fulfillments"} <= shown.keys()
    assert "email" not in shown and "platform_order_id" not in shown  # the shopper's trimmed shape


def test_unverified_shopper_cannot_list_orders(app: Flask, clients: Clients, site: str) -> None:
    make_order(app, 1001, "ann@example.com")
    anonymous = clients.widget({"site": site})
    answer = ask(anonymous, "orders:list", {})
    assert answer == {"ok": False, "error": {"code": "not_verified", "message": answer["error"]["message"]}}


def test_a_bad_hmac_does_not_make_a_shopper_verified_for_orders(
        app: Flask, clients: Clients, inbox: Inbox, site: str) -> None:
    make_order(app, 1001, "ann@example.com")
    forged = clients.widget({"site": site, "identity": {"email": "ann@example.com", "hmac": "0" * 64}})
    assert ask(forged, "orders:list")["error"]["code"] == "not_verified"


def test_lookup_with_the_right_number_and_email_shows_the_order(app: Flask, clients: Clients, site: str) -> None:
    make_order(app, 1001, "ann@example.com")
    anonymous = clients.widget({"site": site})
    answer = ask(anonymous, "orders:lookup", {"number": "#1001", "email": " Ann@Example.com "})
    assert answer["ok"] is True and answer["order"]["number"] == "1001"
    assert answer["order"]["line_items"]


@pytest.mark.parametrize(("number", "email"), [("1001", "bob@example.com"), ("1002", "ann@example.com"),
                                              ("9999", "nobody@example.com")])
def test_a_wrong_pair_is_not_found_and_leaks_nothing(
        app: Flask, clients: Clients, site: str, number: str, email: str) -> None:
    make_order(app, 1001, "ann@example.com")
    make_order(app, 1002, "bob@example.com")
    answer = ask(clients.widget({"site": site}), "orders:lookup", {"number": number, "email": email})
    assert answer == {"ok": False, "error": {"code": "not_found",
                                              "message": "no order matches that number and email"}}


@pytest.mark.parametrize("data", [None, "1001", {"number": "1001"}, {"number": ["1001"], "email": "a@b.c"},
                                  {"number": "", "email": ""}, {"number": "1" * 100, "email": "a@b.c"}])
def test_lookup_with_bad_input_is_refused_clearly(app: Flask, clients: Clients, site: str, data: Any) -> None:
    answer = ask(clients.widget({"site": site}), "orders:lookup", data)
    assert answer["ok"] is False and answer["error"]["code"] == "invalid_order"


def test_a_flood_of_lookups_is_rate_limited_even_for_the_right_pair(
        app: Flask, clients: Clients, site: str) -> None:
    make_order(app, 1001, "ann@example.com")
    guesser = clients.widget({"site": site})
    answers = [ask(guesser, "orders:lookup", {"number": str(2000 + i), "email": "ann@example.com"})
               for i in range(5)]
    assert [a["error"]["code"] for a in answers] == ["not_found"] * 5
    limited = ask(guesser, "orders:lookup", {"number": "1001", "email": "ann@example.com"})
    assert limited["ok"] is False and limited["error"]["code"] == "rate_limited" and "order" not in limited
    # A fresh visitor token from the same address does not reset the count.
    again = ask(clients.widget({"site": site}), "orders:lookup", {"number": "1001", "email": "ann@example.com"})
    assert again["error"]["code"] == "rate_limited"


def test_verified_shopper_picks_an_order_and_the_conversation_links_it(
        app: Flask, clients: Clients, inbox: Inbox, site: str) -> None:
    mine = make_order(app, 1001, "ann@example.com")
    conv = make_conversation(app, inbox, email="ann@example.com", body="Hi")
    answer = ask(verified(clients, inbox, site), "orders:pick", {"conversation_id": conv.public_id, "order_id": mine})
    assert answer["ok"] is True and answer["order"]["id"] == mine
    assert links(app, conv.public_id) == [("1001", LinkState.linked, "shopper")]


def test_picking_someone_elses_order_is_not_found_and_links_nothing(
        app: Flask, clients: Clients, inbox: Inbox, site: str) -> None:
    theirs = make_order(app, 1002, "bob@example.com")
    conv = make_conversation(app, inbox, email="ann@example.com", body="Hi")
    answer = ask(verified(clients, inbox, site), "orders:pick",
                 {"conversation_id": conv.public_id, "order_id": theirs})
    assert answer["ok"] is False and answer["error"]["code"] == "not_found"
    assert links(app, conv.public_id) == []


def test_picking_into_someone_elses_conversation_is_not_found(
        app: Flask, clients: Clients, inbox: Inbox, site: str) -> None:
    mine = make_order(app, 1001, "ann@example.com")
    bobs = make_conversation(app, inbox, email="bob@example.com", body="Hi")
    answer = ask(verified(clients, inbox, site), "orders:pick", {"conversation_id": bobs.public_id, "order_id": mine})
    assert answer["ok"] is False and answer["error"]["code"] == "not_found"
    assert links(app, bobs.public_id) == []


@pytest.mark.parametrize("data", [None, {}, {"conversation_id": 5, "order_id": None}])
def test_pick_with_bad_input_changes_nothing(app: Flask, clients: Clients, inbox: Inbox, site: str,
                                             data: Any) -> None:
    conv = make_conversation(app, inbox, email="ann@example.com", body="Hi")
    answer = ask(verified(clients, inbox, site), "orders:pick", data)
    assert answer["ok"] is False and answer["error"]["code"] == "not_found"
    assert links(app, conv.public_id) == []


def test_unverified_shopper_cannot_pick_an_order(app: Flask, clients: Clients, inbox: Inbox, site: str) -> None:
    mine = make_order(app, 1001, "ann@example.com")
    anonymous = clients.widget({"site": site})
    conv_id = anonymous.emit("message:send", {"client_msg_id": "m1", "body": "order 1001?"}, namespace=W,
                             callback=True)["message"]["conversation_id"]
    answer = ask(anonymous, "orders:pick", {"conversation_id": conv_id, "order_id": mine})
    assert answer["ok"] is False and answer["error"]["code"] == "not_verified"
    assert all(source != "shopper" for _n, _s, source in links(app, conv_id))


def test_order_events_need_a_connected_visitor(app: Flask, clients: Clients) -> None:
    refused = clients.widget({"site": "no-such-site"})
    assert not refused.is_connected(W)


def test_a_shoppers_pick_refreshes_the_watching_agents_orders_card(
        app: Flask, clients: Clients, inbox: Inbox, site: str, agent: Any, logged_in: Any) -> None:
    mine = make_order(app, 1001, "ann@example.com")
    conv = make_conversation(app, inbox, email="ann@example.com", body="Hi")
    http = logged_in(agent.email)
    console = clients.console(http)
    assert console.emit("subscribe", {"conversation_id": conv.public_id}, namespace="/console", callback=True)["ok"]
    console.get_received("/console")
    ask(verified(clients, inbox, site), "orders:pick", {"conversation_id": conv.public_id, "order_id": mine})
    nudges = [p["args"][0] for p in console.get_received("/console") if p["name"] == "orders:changed"]
    assert nudges == [{"conversation_id": conv.public_id}]
    card = http.get(f"/console/c/{conv.public_id}/orders/panel").get_data(as_text=True)
    assert 'id="orders"' in card and "#1001" in card
    assert app.test_client().get(f"/console/c/{conv.public_id}/orders/panel").status_code == 302  # agents only
