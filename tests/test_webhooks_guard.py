"""Issue 12 finding 6: a webhook route of a platform that is not configured refuses everyone (401,
the error shape, nothing stored); inbound webhooks are rate limited per address; bodies are bounded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.crm.models import CrmWebhookDelivery
from helpdesk.jobs import Job
from helpdesk.orders.models import WebhookDelivery
from helpdesk.tickets.email.models import InboundMail

BC_HOOK = {"scope": "store/order/created", "store_id": "1", "data": {"type": "order", "id": 7},
           "hash": "abc", "created_at": 1774346400, "producer": "stores/abc123"}
ORDER = {"id": 1, "email": "ann@example.com", "updated_at": "2026-01-01T00:00:00Z"}


def stored(app: Flask) -> dict[str, int]:
    with db_of(app).sessions() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                for m in (WebhookDelivery, CrmWebhookDelivery, InboundMail, Job)}


UNCONFIGURED: dict[str, dict[str, Any]] = {
    "bigcommerce": {"path": "/webhooks/bigcommerce", "json": BC_HOOK},
    "bigcommerce with a guessed secret": {"path": "/webhooks/bigcommerce", "json": BC_HOOK,
                                          "headers": {"X-Webhook-Secret": ""}},
    "shopify": {"path": "/webhooks/shopify", "json": ORDER,
                "headers": {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "1",
                            "X-Shopify-Hmac-Sha256": "AAAA"}},
    "woocommerce order": {"path": "/webhooks/woocommerce", "json": ORDER,
                          "headers": {"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Delivery-ID": "1",
                                      "X-WC-Webhook-Signature": "AAAA"}},
    "woocommerce ping": {"path": "/webhooks/woocommerce", "data": "webhook_id=5",
                         "content_type": "application/x-www-form-urlencoded"},
    "hubspot": {"path": "/webhooks/hubspot", "json": [{"eventId": 1, "subscriptionType": "contact.creation",
                                                       "objectId": 5}]},
    "mailgun": {"path": "/inbound/email/mailgun", "data": {"timestamp": "1", "token": "t", "signature": "s",
                                                           "body-mime": "From: a@b.example\r\n\r\nhi"}},
    "raw mail without an ingest token": {"path": "/inbound/email/raw", "data": b"From: a@b.example\r\n\r\nhi",
                                         "content_type": "message/rfc822"},
    "sendgrid with a wrong token": {"path": "/inbound/email/sendgrid?token=guess",
                                    "data": {"email": "From: a@b.example\r\n\r\nhi"}},
    "postmark with a wrong token": {"path": "/inbound/email/postmark", "json": {"RawEmail": "From: a@b\r\n\r\nhi"},
                                    "headers": {"Authorization": "Bearer guess"}},
}


@pytest.mark.parametrize("case", list(UNCONFIGURED), ids=list(UNCONFIGURED))
def test_an_unconfigured_webhook_refuses_with_401_and_stores_nothing(app: Flask, client: FlaskClient,
                                                                     case: str) -> None:
    spec = dict(UNCONFIGURED[case])
    response = client.post(spec.pop("path"), **spec)
    assert response.status_code == 401, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert set(error) == {"code", "message"} and error["code"]
    assert set(stored(app).values()) == {0}


def test_bigcommerce_configured_without_a_secret_is_still_refused(app: Flask, client: FlaskClient) -> None:
    app.config.update(BIGCOMMERCE_STORE_HASH="abc123", BIGCOMMERCE_ACCESS_TOKEN="t")
    response = client.post("/webhooks/bigcommerce", json=BC_HOOK)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "webhook_not_configured"
    assert set(stored(app).values()) == {0}


def test_bigcommerce_bodies_are_bounded(app: Flask, client: FlaskClient) -> None:
    app.config.update(BIGCOMMERCE_STORE_HASH="abc123", BIGCOMMERCE_ACCESS_TOKEN="t",
                      BIGCOMMERCE_WEBHOOK_SECRET="s3cret")
    big = {**BC_HOOK, "padding": "x" * 100_000}
    response = client.post("/webhooks/bigcommerce", data=json.dumps(big), content_type="application/json",
                           headers={"X-Webhook-Secret": "s3cret"})
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"
    assert set(stored(app).values()) == {0}


def test_inbound_webhooks_are_rate_limited_per_address(app: Flask, client: FlaskClient) -> None:
    app.config["WEBHOOK_RATE"] = "3/minute"
    codes = [client.post("/webhooks/bigcommerce", json=BC_HOOK).status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    for path in ("/webhooks/bigcommerce", "/webhooks/shopify", "/webhooks/hubspot", "/inbound/email/raw"):
        limited = client.post(path, json=BC_HOOK)
        assert limited.status_code == 429
        assert limited.get_json()["error"]["code"] == "rate_limited"
    other = client.post("/webhooks/bigcommerce", json=BC_HOOK, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 401  # another address has its own budget
