"""Payments fixtures: the Stripe and PayPal fakes (one server each per module), orders, a worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from helpdesk import db_of
from helpdesk.actors import SYSTEM
from helpdesk.jobs import Worker
from helpdesk.orders import services
from helpdesk.orders.models import Order
from helpdesk.orders.woocommerce import WooCommerceConnector
from helpdesk.runtime import runtime_of
from tests.orders.fakes import woo_order
from tests.payments.fakes import FakePayPal, FakeStripe, serving

WEBHOOK_SECRET = "whsec_test_secret_0123456789"


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[FakeStripe]:
    with serving(FakeStripe()) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture(scope="module")
def paypal_server() -> Iterator[FakePayPal]:
    with serving(FakePayPal()) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def fake_stripe(stripe_server: FakeStripe) -> Iterator[FakeStripe]:
    """The module's Stripe fake, emptied for each test."""
    stripe_server.charges.clear()
    stripe_server.refunds.clear()
    stripe_server.disputes.clear()
    stripe_server.requests.clear()
    stripe_server.throttle_next, stripe_server.page_size, stripe_server.on_request = 0, 100, None
    yield stripe_server


@pytest.fixture
def fake_paypal(paypal_server: FakePayPal) -> Iterator[FakePayPal]:
    for kept in (paypal_server.captures, paypal_server.orders, paypal_server.disputes, paypal_server.requests):
        kept.clear()
    paypal_server.throttle_next, paypal_server.page_size, paypal_server.on_request = 0, 50, None
    yield paypal_server


@pytest.fixture
def app_config(app_config: dict[str, Any], stripe_server: FakeStripe, paypal_server: FakePayPal) -> dict[str, Any]:
    return {**app_config, "STRIPE_API_KEY": stripe_server.api_key, "STRIPE_API_BASE": stripe_server.url,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "PAYPAL_CLIENT_ID": paypal_server.client_id,
            "PAYPAL_CLIENT_SECRET": paypal_server.client_secret, "PAYPAL_API_BASE": paypal_server.url}


@pytest.fixture
def run_jobs(app: Flask) -> Callable[[], int]:
    return Worker(runtime_of(app)).run_until_idle


def make_woo_order(app: Flask, order_id: int, email: str = "jenny.rosen@example.com", **changes: Any) -> int:
    """A WooCommerce order stored through the real services (its job to fetch the payment is
    queued by the sync, as in production); returns its row id."""
    data = WooCommerceConnector("https://woo.example", "ck", "cs").parse_order(
        woo_order(order_id=order_id, email=email, **changes))
    with db_of(app).unit_of_work() as s:
        order, _ = services.upsert_order(s, SYSTEM, data)
        return order.id


def order_row(app: Flask, order_id: int) -> Order:
    with db_of(app).unit_of_work() as s:
        order = s.get(Order, order_id)
        s.expunge(order)
        return order
