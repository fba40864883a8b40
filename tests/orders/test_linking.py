"""Linking orders to conversations: recognition in the text, by hand in the console, by the API."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM, customer_actor
from helpdesk.crm.models import Customer
from helpdesk.orders.linking import find_order_numbers
from helpdesk.orders.models import ConversationOrder, Order
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Inbox
from tests.conftest import csrf_token
from tests.factories import make_conversation, make_inbox
from tests.orders.conftest import make_order


@pytest.fixture
def inbox(app: Flask) -> Inbox:
    return make_inbox(app)[0]


def link_states(session: Session, conv: Conversation) -> dict[str, str]:
    rows = session.execute(select(Order.number, ConversationOrder.state).join(
        ConversationOrder, ConversationOrder.order_id == Order.id).where(
        ConversationOrder.conversation_id == conv.id)).all()
    session.commit()
    return {number: state.value for number, state in rows}


@pytest.mark.parametrize(("text", "numbers"), [
    ("Where is my order #1001?", ["1001"]),
    ("order 1001 and order no. 1002, also Order number: 1003", ["1001", "1002", "1003"]),
    ("my order# 1004 hasn't arrived", ["1004"]),
    ("# 1005 and #1005 again", ["1005"]),
    ("I called 555-1234 at 10:30 on 2026-03-01, item 42", []),
    ("#12 is too short to be an order", []),
])
def test_order_numbers_are_found_in_text(text: str, numbers: list[str]) -> None:
    assert find_order_numbers(text) == numbers


def test_number_of_the_customers_own_order_is_linked_automatically(app: Flask, inbox: Inbox,
                                                                   session: Session) -> None:
    make_order(app, 1001, "ann@example.com")
    conv = make_conversation(app, inbox, email="ann@example.com", body="Hi, where is my order #1001?")
    assert link_states(session, conv) == {"1001": "linked"}


def test_number_of_someone_elses_order_is_only_offered(app: Flask, inbox: Inbox, session: Session) -> None:
    make_order(app, 1002, "bob@example.com")
    conv = make_conversation(app, inbox, email="ann@example.com", body="about order 1002")
    assert link_states(session, conv) == {"1002": "suggested"}


def test_an_agent_mention_in_a_later_message_links_too(app: Flask, inbox: Inbox, session: Session,
                                                       agent: Agent) -> None:
    make_order(app, 1003, "ann@example.com")
    conv = make_conversation(app, inbox, email="ann@example.com", body="Hello")
    assert link_states(session, conv) == {}
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        tickets.post_message(s, SYSTEM, c, body="Looking at order 1003 now", private=False)
    assert link_states(session, conv) == {"1003": "linked"}


@pytest.fixture
def console(client: FlaskClient, agent: Agent) -> FlaskClient:
    from tests.conftest import login

    assert login(client, agent.email).status_code == 302
    return client


def test_agent_links_and_unlinks_by_hand_and_recognition_respects_the_unlink(
        app: Flask, inbox: Inbox, console: FlaskClient, session: Session) -> None:
    order_id = make_order(app, 1004, "ann@example.com")
    conv = make_conversation(app, inbox, email="ann@example.com", body="Hello")
    page = f"/console/c/{conv.public_id}"
    token = csrf_token(console, page)
    assert console.post(f"{page}/orders", data={"order": "1004", "csrf_token": token}).status_code == 303
    assert link_states(session, conv) == {"1004": "linked"}
    assert console.post(f"{page}/orders/{order_id}/unlink", data={"csrf_token": token}).status_code == 303
    assert link_states(session, conv) == {"1004": "dismissed"}
    # The shopper names it again: an agent's unlink stands.
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        tickets.post_message(s, customer_actor(s.get(Customer, c.customer_id)), c, body="order #1004??")
    assert link_states(session, conv) == {"1004": "dismissed"}


def test_linking_an_unknown_number_flashes_an_error_and_changes_nothing(
        app: Flask, inbox: Inbox, console: FlaskClient, session: Session) -> None:
    conv = make_conversation(app, inbox)
    page = f"/console/c/{conv.public_id}"
    response = console.post(f"{page}/orders", data={"order": "9999", "csrf_token": csrf_token(console, page)},
                            follow_redirects=True)
    assert "no such order" in response.get_data(as_text=True)
    assert link_states(session, conv) == {}


def test_sidebar_shows_status_items_payment_working_tracking_link_and_refunds(
        app: Flask, inbox: Inbox, console: FlaskClient) -> None:
    from tests.orders.fakes import shopify_sample

    refund = shopify_sample("refund.json")["refund"]
    make_order(app, 1001, "bob.norman@hostmail.com", financial_status="partially_refunded", refunds=[refund])
    make_order(app, 1007, "bob.norman@hostmail.com")
    conv = make_conversation(app, inbox, email="bob.norman@hostmail.com", body="where is #1001")
    html = console.get(f"/console/c/{conv.public_id}").get_data(as_text=True)
    sidebar = html[html.index('id="orders"'):]
    assert "#1001" in sidebar and "IPod Nano - 8gb" in sidebar and "$409.94" in sidebar
    assert "Authorize net" in sidebar and "partially refunded" in sidebar
    link = re.search(r'<a href="([^"]+)" target="_blank" rel="noopener noreferrer" class="track"[^>]*>1Z2345', sidebar)
    assert link and link.group(1).startswith("http://wwwapps.ups.com/etracking/tracking.cgi?InquiryNumber1=1Z2345")
    assert "$209.00" in sidebar and "it broke during shipping" in sidebar
    assert "Recent orders" in sidebar and "#1007" in sidebar  # offered for linking


def test_a_javascript_tracking_url_is_never_a_link(app: Flask, inbox: Inbox, console: FlaskClient) -> None:
    make_order(app, 1008, "ann@example.com", fulfillments=[{
        "id": 1, "status": "success", "tracking_company": "Acme", "tracking_number": "X1",
        "tracking_url": "javascript:alert(1)"}])
    conv = make_conversation(app, inbox, email="ann@example.com", body="order 1008")
    html = console.get(f"/console/c/{conv.public_id}").get_data(as_text=True)
    assert "X1" in html and "javascript:alert" not in html


# --- REST API ---------------------------------------------------------------------------------

@pytest.fixture
def api(app: Flask, client: FlaskClient, agent: Agent) -> Any:
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "tests")

    def call(method: str, path: str, **kwargs: Any) -> Any:
        return getattr(client, method)(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs)
    return call


def test_api_links_an_order_to_a_conversation_once(app: Flask, inbox: Inbox, api: Any, session: Session) -> None:
    order_id = make_order(app, 1010, "bob@example.com")
    conv = make_conversation(app, inbox)
    for _ in range(2):
        response = api("post", f"/conversations/{conv.public_id}/orders", json={"order": order_id})
        assert response.status_code == 201
        assert response.get_json()["order"]["id"] == order_id
    assert link_states(session, conv) == {"1010": "linked"}


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"order": "nope"}, 404, "not_found"), ({}, 422, "invalid_order"), ({"order": True}, 422, "invalid_order"),
    ("[]", 400, "malformed_json")])
def test_api_link_refuses_bad_input(app: Flask, inbox: Inbox, api: Any, session: Session, body: Any,
                                    status: int, code: str) -> None:
    conv = make_conversation(app, inbox)
    kwargs = {"data": body, "content_type": "application/json"} if isinstance(body, str) else {"json": body}
    response = api("post", f"/conversations/{conv.public_id}/orders", **kwargs)
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    assert link_states(session, conv) == {}


def test_api_lists_orders_by_customer_and_number_with_paging(app: Flask, inbox: Inbox, api: Any) -> None:
    for n in range(1020, 1025):
        make_order(app, n, "ann@example.com", created_at=f"2026-01-{n - 1000:02d}T10:00:00Z")
    make_order(app, 1030, "bob@example.com")
    conv = make_conversation(app, inbox, email="ann@example.com")
    with db_of(app).unit_of_work() as s:
        customer = s.get(Conversation, conv.id).customer.public_id
    first = api("get", f"/orders?customer={customer}&limit=3").get_json()
    assert [o["number"] for o in first["data"]] == ["1024", "1023", "1022"]
    rest = api("get", f"/orders?customer={customer}&limit=3&cursor={first['next_cursor']}").get_json()
    assert [o["number"] for o in rest["data"]] == ["1021", "1020"] and rest["next_cursor"] is None
    by_number = api("get", "/orders?number=%231030").get_json()["data"]
    assert [o["email"] for o in by_number] == ["bob@example.com"]
    one = api("get", f"/orders/{by_number[0]['id']}").get_json()
    assert one["line_items"][0]["title"] == "IPod Nano - 8gb" and one["fulfillments"][0]["tracking_number"] == "1Z2345"
    assert api("get", "/orders/or_missing").status_code == 404
    assert api("get", "/orders?customer=cu_missing").status_code == 422
    assert api("get", "/orders?cursor=%%%").status_code == 422


def test_api_orders_need_a_token(client: FlaskClient) -> None:
    assert client.get("/api/v1/orders").status_code == 401


def test_openapi_describes_the_order_paths(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"/orders", "/orders/{id}", "/conversations/{id}/orders"} <= set(spec["paths"])
    assert "Order" in spec["components"]["schemas"]


def test_console_link_without_csrf_token_is_refused(app: Flask, inbox: Inbox, console: FlaskClient,
                                                    session: Session) -> None:
    make_order(app, 1011, "ann@example.com")
    conv = make_conversation(app, inbox, email="ann@example.com")
    response = console.post(f"/console/c/{conv.public_id}/orders", data={"order": "1011"})
    assert response.status_code == 400
    assert link_states(session, conv) == {}


def test_get_conversation_lists_its_linked_and_suggested_orders(app: Flask, client: FlaskClient, inbox: Inbox,
                                                                agent: Agent) -> None:
    own = make_order(app, 1201, "ann@example.com")
    other = make_order(app, 1202, "bob@example.com")
    conv = make_conversation(app, inbox, email="ann@example.com", body="orders #1201 and #1202")
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "tests")
    body = client.get(f"/api/v1/conversations/{conv.public_id}",
                      headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["orders"] == [
        {"id": own, "number": "1201", "name": "#1201", "platform": "shopify", "state": "linked"},
        {"id": other, "number": "1202", "name": "#1202", "platform": "shopify", "state": "suggested"}]
