"""The order card (conversation sidebar) and the customer 360 order list show the stored payment:
charge, refunds, dispute with its deadline. A page never calls Stripe or PayPal."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.jobs import Job
from helpdesk.orders import linking
from helpdesk.orders.models import Order
from helpdesk.payments import sync
from helpdesk.tickets.models import Conversation
from tests.factories import make_conversation, make_inbox
from tests.payments.conftest import make_woo_order
from tests.payments.fakes import FakeStripe, stripe_charge, stripe_dispute, stripe_refund

CHARGE = "ch_card_1"


def linked_conversation(app: Flask, order_id: int, email: str) -> tuple[str, str]:
    conv = make_conversation(app, make_inbox(app)[0], email=email, body="Question about my order")
    with db_of(app).unit_of_work() as s:
        order = s.get(Order, order_id)
        linking.link_order(s, SYSTEM, s.get(Conversation, conv.id), order)
        return conv.public_id, order.customer.public_id


def test_card_and_360_show_the_stored_charge_refund_and_dispute_without_calling_stripe(
        app: Flask, agent_client: FlaskClient, client: FlaskClient, agent: Agent, fake_stripe: FakeStripe,
        run_jobs: Any) -> None:
    fake_stripe.add_charge(stripe_charge(CHARGE, amount=19900, refunded=500))
    fake_stripe.refunds.append(stripe_refund("re_card", CHARGE, 500))
    fake_stripe.disputes.append(stripe_dispute("dp_card", CHARGE, amount=19400, reason="product_not_received",
                                               due_by=1798761600))
    order_id = make_woo_order(app, 1201, email="ann@example.com", transaction_id=CHARGE)
    conv, customer = linked_conversation(app, order_id, "ann@example.com")
    before = len(fake_stripe.requests)
    page = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    assert len(fake_stripe.requests) == before == 0  # not fetched yet, and the page did not ask
    assert "Refresh payment" in page and "Dispute" not in page
    run_jobs()
    fetched = len(fake_stripe.requests)
    page = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    assert "visa •••• 4242" in page and "succeeded" in page
    assert "$199.00" in page and "refunded $5.00" in page and "requested by customer" in page
    assert 'data-dispute="dp_card"' in page and "Dispute · needs response" in page
    assert "$194.00" in page and "product not received" in page
    assert "Evidence due by Fri, Jan 1, 2027, 00:00 UTC" in page
    panel = agent_client.get(f"/console/c/{conv}/orders/panel").get_data(as_text=True)
    assert "dp_card" in panel
    profile = agent_client.get(f"/console/customers/{customer}").get_data(as_text=True)
    assert "dispute · needs response $194.00" in profile and "Stripe succeeded" in profile
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "tests")
        public = s.get(Order, order_id).public_id
    api = client.get(f"/api/v1/orders/{public}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert api["payment"]["provider"] == "stripe" and api["payment"]["state"] == "found"
    paid = api["payment"]
    assert (paid["amount"], paid["refunded"], paid["currency"]) == ("199.00", "5.00", "USD")
    assert api["payment"]["disputes"] == [{"id": "dp_card", "provider": "stripe", "status": "needs_response",
                                           "amount": "194.00", "currency": "USD", "reason": "product_not_received",
                                           "evidence_due_by": "2027-01-01T00:00:00Z"}]
    assert len(fake_stripe.requests) == fetched  # four pages and an API call, no provider call


def test_refresh_button_queues_one_fetch_and_the_card_says_what_failed(
        app: Flask, agent_client: FlaskClient, fake_stripe: FakeStripe, run_jobs: Any) -> None:
    from tests.conftest import csrf_token

    order_id = make_woo_order(app, 1202, email="bo@example.com", transaction_id="ch_gone")
    conv, _ = linked_conversation(app, order_id, "bo@example.com")
    run_jobs()
    page = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    assert "Stripe: no payment found" in page and "No such charge" in page
    with db_of(app).unit_of_work() as s:
        public = s.get(Order, order_id).public_id
    token = csrf_token(agent_client, f"/console/c/{conv}")
    for _ in range(2):
        answer = agent_client.post(f"/console/c/{conv}/orders/{public}/payment/refresh", data={"csrf_token": token})
        assert answer.status_code == 303
    with db_of(app).unit_of_work() as s:
        assert len(list(s.scalars(select(Job).filter_by(kind=sync.FETCH, state="queued")))) == 1
    assert agent_client.post(f"/console/c/{conv}/orders/{public}/payment/refresh").status_code == 400  # no CSRF


def test_erasing_the_customer_drops_the_card_digits_and_keeps_the_amounts(
        app: Flask, manager: Agent, fake_stripe: FakeStripe, run_jobs: Any) -> None:
    from helpdesk.actors import agent_actor
    from helpdesk.customers360 import services as c360
    from helpdesk.payments.models import Payment

    fake_stripe.add_charge(stripe_charge("ch_erase"))
    order_id = make_woo_order(app, 1203, email="gone@example.com", transaction_id="ch_erase")
    run_jobs()
    with db_of(app).unit_of_work() as s:
        c360.erase(s, agent_actor(s.get(Agent, manager.id)), s.get(Order, order_id).customer)
    with db_of(app).unit_of_work() as s:
        payment = s.scalar(select(Payment).filter_by(order_id=order_id))
        assert payment.method is None and payment.amount is not None and payment.reference == "ch_erase"


def test_the_payment_on_the_card_speaks_german(app: Flask, agent_client: FlaskClient, fake_stripe: FakeStripe,
                                               run_jobs: Any) -> None:
    fake_stripe.add_charge(stripe_charge(CHARGE, amount=19900, refunded=500))
    fake_stripe.disputes.append(stripe_dispute("dp_de", CHARGE, amount=19400, reason="product_not_received",
                                               due_by=1798761600))
    order_id = make_woo_order(app, 1202, email="ann@example.com", transaction_id=CHARGE)
    conv, _customer = linked_conversation(app, order_id, "ann@example.com")
    german = {"Accept-Language": "de"}
    page = agent_client.get(f"/console/c/{conv}", headers=german).get_data(as_text=True)
    assert "Zahlung aktualisieren" in page and "Zahlung noch nicht abgerufen" in page
    run_jobs()
    page = agent_client.get(f"/console/c/{conv}", headers=german).get_data(as_text=True)
    assert "Rückbuchung · needs response" in page and "Nachweise fällig bis Fr., 1. Jan. 2027, 00:00 UTC" in page
    assert "Belastet 199,00" in page and "Refresh payment" not in page
