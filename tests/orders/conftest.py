"""Orders fixtures: signed webhook posts, a worker, shop settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk import db_of
from helpdesk.jobs import Worker
from helpdesk.runtime import runtime_of

SHOPIFY_SECRET = "shpss_test_secret"
WOO_SECRET = "woo webhook secret"
SHOP = "shop-example.myshopify.com"


def hmac_b64(secret: str, body: bytes) -> str:
    """How Shopify and WooCommerce sign: base64(HMAC-SHA256(secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "SHOPIFY_SHOP": SHOP, "SHOPIFY_WEBHOOK_SECRET": SHOPIFY_SECRET,
            "WOOCOMMERCE_URL": "https://woo.example", "WOOCOMMERCE_WEBHOOK_SECRET": WOO_SECRET}


@pytest.fixture
def shopify_post(client: FlaskClient) -> Callable[..., Any]:
    counter = iter(range(1, 10_000))

    def post(topic: str, payload: Any, *, webhook_id: str | None = None, secret: str = SHOPIFY_SECRET,
             signature: str | None = None, body: bytes | None = None) -> Any:
        raw = body if body is not None else json.dumps(payload).encode()
        headers = {"X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": SHOP,
                   "X-Shopify-Webhook-Id": webhook_id or f"wh-{next(counter)}",
                   "X-Shopify-API-Version": "2025-01", "Content-Type": "application/json"}
        if signature is None:
            signature = hmac_b64(secret, raw)
        if signature:
            headers["X-Shopify-Hmac-Sha256"] = signature
        return client.post("/webhooks/shopify", data=raw, headers=headers)

    return post


@pytest.fixture
def run_jobs(app: Flask) -> Callable[[], int]:
    worker = Worker(runtime_of(app))
    return worker.run_until_idle


def make_order(app: Flask, number: int, email: str, **changes: Any) -> str:
    """A Shopify order stored through the real services; returns its public id."""
    from helpdesk.actors import SYSTEM
    from helpdesk.orders import services
    from helpdesk.orders.shopify import ShopifyConnector
    from tests.orders.fakes import shopify_order

    payload = shopify_order(order_id=450789469 + number, number=number, email=email, **changes)
    with db_of(app).unit_of_work() as s:
        order, _ = services.upsert_order(s, SYSTEM, ShopifyConnector(SHOP, "").parse_order(payload))
        return order.public_id
