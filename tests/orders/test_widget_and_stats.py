"""What shoppers may see of orders, and the customer's order figures."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import db_of
from helpdesk.actors import SYSTEM, customer_actor
from helpdesk.crm import services as crm
from helpdesk.errors import NotFound
from helpdesk.orders import linking, services, widget
from helpdesk.orders.models import Order
from helpdesk.tickets.models import Conversation, Inbox
from tests.factories import make_conversation, make_inbox
from tests.orders.conftest import make_order


@pytest.fixture
def site(app: Flask) -> str:
    _inbox, site_key = make_inbox(app)
    return site_key


@pytest.fixture
def app_config(app_config: dict) -> dict:
    return {**app_config, "ORDER_LOOKUP_RATE": "5/minute"}


def lookup(client: FlaskClient, site: str, number: object, email: object, ip: str = "203.0.113.9") -> object:
    return client.post("/widget/orders/lookup", json={"site": site, "number": number, "email": email},
                       environ_base={"REMOTE_ADDR": ip})


def test_unverified_shopper_finds_an_order_with_its_number_and_email(app: Flask, client: FlaskClient,
                                                                     site: str) -> None:
    make_order(app, 1001, "ann@example.com")
    response = lookup(client, site, "#1001", " Ann@Example.com ")
    assert response.status_code == 200
    order = response.get_json()["order"]
    assert order["name"] == "#1001" and order["fulfillments"][0]["tracking_number"] == "1Z2345"
    assert "email" not in order and "customer" not in order and "shop" not in order  # the shopper's view


@pytest.mark.parametrize(("number", "email"), [("1001", "bob@example.com"), ("1002", "ann@example.com"),
                                               ("1001", "")])
def test_a_wrong_pair_shows_nothing(app: Flask, client: FlaskClient, site: str, number: str, email: str) -> None:
    make_order(app, 1001, "ann@example.com")
    response = lookup(client, site, number, email)
    assert response.status_code in (404, 422)
    assert "order" not in response.get_json() and "1001" not in response.get_data(as_text=True)


def test_guessing_order_numbers_is_rate_limited(app: Flask, client: FlaskClient, site: str) -> None:
    make_order(app, 1001, "ann@example.com")
    answers = [lookup(client, site, str(1000 + i), "ann@example.com").status_code for i in range(2, 7)]
    assert answers == [404] * 5
    # Past the limit even the right pair is refused, and says nothing about the order.
    limited = lookup(client, site, "1001", "ann@example.com")
    assert limited.status_code == 429 and limited.get_json()["error"]["code"] == "rate_limited"
    # Another client is not punished for it.
    assert lookup(client, site, "1001", "ann@example.com", ip="198.51.100.7").status_code == 200


def test_lookup_needs_a_known_site_key(app: Flask, client: FlaskClient) -> None:
    make_order(app, 1001, "ann@example.com")
    assert lookup(client, "no-such-site", "1001", "ann@example.com").status_code == 404


def test_verified_shopper_lists_and_picks_only_their_own_orders(app: Flask, site: str, session: Session) -> None:
    inbox = session.scalar(select(Inbox).filter_by(site_key=site))
    session.commit()
    make_order(app, 1001, "ann@example.com")
    make_order(app, 1002, "ann@example.com")
    theirs = make_order(app, 1003, "bob@example.com")
    conv = make_conversation(app, inbox, email="ann@example.com", body="Hi")
    with db_of(app).unit_of_work() as s:
        ann = crm.customer_for_email(s, SYSTEM, "ann@example.com")
        assert sorted(o.number for o in widget.orders_for_shopper(s, ann)) == ["1001", "1002"]
        c = s.get(Conversation, conv.id)
        mine = s.scalar(select(Order).filter_by(number="1001"))
        link = linking.shopper_pick_order(s, customer_actor(ann), c, mine)
        assert link.source == "shopper"
        with pytest.raises(NotFound):
            linking.shopper_pick_order(s, customer_actor(ann), c, services.get_order(s, theirs))


def test_customer_order_stats_count_value_and_average(app: Flask, session: Session) -> None:
    make_order(app, 1001, "ann@example.com", total_price="100.00")
    make_order(app, 1002, "ann@example.com", total_price="50.00",
               refunds=[{"id": 5, "order_id": 1, "transactions": [{"kind": "refund", "status": "success",
                                                                    "amount": "20.00"}]}])
    make_order(app, 1003, "ann@example.com", total_price="999.00", cancelled_at="2026-01-01T00:00:00Z")
    make_order(app, 1004, "ann@example.com", total_price="10.00", currency="EUR")
    with db_of(app).unit_of_work() as s:
        ann = crm.find_by_identity(s, crm.IdentityKind.email, "ann@example.com")
        value, count, average, currency = services.customer_order_stats(s, ann)
        nobody = crm.customer_for_email(s, SYSTEM, "new@example.com")
        assert services.customer_order_stats(s, nobody) == (Decimal("0"), 0, Decimal("0"), None)
    assert (value, count, average, currency) == (Decimal("130.00"), 2, Decimal("75.00"), "USD")


def test_customer_orders_partial_renders_the_figures(app: Flask, session: Session) -> None:
    make_order(app, 1001, "ann@example.com", total_price="100.00")
    make_order(app, 1002, "ann@example.com", total_price="50.00")
    with app.test_request_context():
        from flask import render_template_string

        from helpdesk.orders.views import customer_orders
        from helpdesk.web import db_session

        ann = crm.find_by_identity(db_session(), crm.IdentityKind.email, "ann@example.com")
        # The view hands the data in; the template queries nothing.
        html = render_template_string('{% include "orders/_customer_orders.html" %}', customer=ann,
                                      co=customer_orders(db_session(), ann))
    # The totals are the 360 page's headline; the card lists the orders with their currency.
    assert "$100.00" in html and "$50.00" in html and "#1002" in html and "Lifetime value" not in html


def test_socket_hooks_list_lookup_and_pick(app: Flask, site: str, session: Session) -> None:
    from helpdesk.errors import Forbidden, RateLimited

    inbox = session.scalar(select(Inbox).filter_by(site_key=site))
    session.commit()
    mine = make_order(app, 1001, "ann@example.com")
    theirs = make_order(app, 1002, "bob@example.com")
    conv = make_conversation(app, inbox, email="ann@example.com", body="Hi")
    with app.test_request_context(), db_of(app).unit_of_work() as s:
        ann = crm.customer_for_email(s, SYSTEM, "ann@example.com")
        with pytest.raises(Forbidden):
            widget.list_event(s, ann, verified=False)
        assert [o["id"] for o in widget.list_event(s, ann, verified=True)["orders"]] == [mine]
        with pytest.raises(Forbidden):
            widget.pick_event(s, ann, {"conversation_id": conv.public_id, "order_id": mine}, verified=False)
        picked = widget.pick_event(s, ann, {"conversation_id": conv.public_id, "order_id": mine}, verified=True)
        assert picked["order"]["id"] == mine
        with pytest.raises(NotFound):
            widget.pick_event(s, ann, {"conversation_id": conv.public_id, "order_id": theirs}, verified=True)
        assert widget.lookup_event(s, {"number": "1002", "email": "bob@example.com"}, rate_key="v1")["order"]
        for _ in range(4):
            with pytest.raises(NotFound):
                widget.lookup_event(s, {"number": "1002", "email": "ann@example.com"}, rate_key="v1")
        with pytest.raises(RateLimited):
            widget.lookup_event(s, {"number": "1002", "email": "bob@example.com"}, rate_key="v1")
