"""The commerce view: CSAT and contact rate by order value, revenue after chats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.crm.models import Customer
from helpdesk.orders.models import Order
from helpdesk.reports.commerce import commerce
from helpdesk.reports.ranges import parse_period, timezone
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import Channel, Conversation, Inbox, Status
from tests.conftest import login

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def build_shop(session: Session) -> None:
    """X buys for 20 on the 5th, chats on the 6th (scores 5), buys for 120 on the 10th.
    Y buys for 60 on the 12th and for 300 on the 20th, then emails on the 28th (scores 2); Y's order of
    the 21st was cancelled and does not count."""
    chat = Inbox(name="Chat", channel=Channel.chat, settings={})
    mail = Inbox(name="Mail", channel=Channel.email, settings={})
    x, y = Customer(name="X", email="x@example.com"), Customer(name="Y", email="y@example.com")
    session.add_all([chat, mail, x, y])
    session.flush()
    for ref, customer, inbox, created, score in [("CX", x, chat, at(6), 5), ("CY", y, mail, at(28), 2)]:
        conv = Conversation(ref=ref, inbox=inbox, customer=customer, channel=inbox.channel,
                            status=Status.resolved, created_at=created,
                            resolved_at=created + timedelta(hours=1))
        session.add(conv)
        session.flush()
        session.add(CsatSurvey(conversation=conv, inbox_id=inbox.id, channel=inbox.channel, nonce="n",
                               sent_at=created + timedelta(hours=1), expires_at=created + timedelta(days=7),
                               score=score, comment="", answered_at=created + timedelta(hours=2)))
    orders = [(x, 20, 5), (x, 120, 10), (y, 60, 12), (y, 300, 20), (y, 999, 21, "cancelled")]
    for i, (customer, total, day, *cancelled) in enumerate(orders, 1):
        session.add(Order(platform="shopify", shop="shop.example", order_id=str(i), number=str(1000 + i),
                          customer_id=customer.id, total=Decimal(total), placed_at=at(day),
                          platform_updated_at=at(day), cancelled_at=at(day, 12) if cancelled else None))
    session.commit()


def test_without_orders_there_is_no_commerce_view(session: Session) -> None:
    assert commerce(session, parse_period(MARCH, timezone("UTC"))) is None


def test_contact_rate_and_csat_by_order_value_and_revenue_after_chat(session: Session) -> None:
    build_shop(session)
    view = commerce(session, parse_period(MARCH, timezone("UTC")))
    assert view is not None and view["orders"] == 4
    bands = {b["band"]: b for b in view["bands"]}
    low = bands["0 to 25"]
    assert (low["orders"], low["contact_rate"], low["csat"]) == (1, 1.0, 1.0)
    assert bands["25 to 50"]["orders"] == 0 and bands["25 to 50"]["contact_rate"] is None
    # Y's mail came 16 days after the 60 order: too late to count as contact about it.
    assert (bands["50 to 100"]["orders"], bands["50 to 100"]["contact_rate"]) == (1, 0.0)
    # X's chat came before the 120 order.
    assert (bands["100 to 250"]["contact_rate"], bands["100 to 250"]["csat"]) == (0.0, None)
    assert (bands["250+"]["contact_rate"], bands["250+"]["csat"]) == (1.0, 0.0)
    # Only the 120 order followed a chat within seven days; Y wrote by email.
    assert (view["revenue_after_chat"], view["orders_after_chat"]) == (120.0, 1)


def test_the_dashboard_shows_the_commerce_view_when_orders_exist(client: FlaskClient, manager: Agent,
                                                                 session: Session) -> None:
    login(client, manager.email)
    assert 'id="commerce"' not in client.get("/reports?from=2026-03-01&to=2026-03-31").get_data(as_text=True)
    build_shop(session)
    html = client.get("/reports?from=2026-03-01&to=2026-03-31").get_data(as_text=True)
    assert 'id="commerce"' in html and 'data-kpi="revenue_after_chat">120.00' in html
