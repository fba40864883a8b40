"""WooCommerce webhooks, BigCommerce id-only webhooks with a fetch, Magento's pull by watermark."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from helpdesk import db_of
from helpdesk.jobs import Job, JobState
from helpdesk.orders import sync
from helpdesk.orders.models import Order, SyncState, WebhookDelivery
from helpdesk.runtime import runtime_of
from tests.orders.conftest import WOO_SECRET, hmac_b64
from tests.orders.fakes import (
    FakeBigCommerce,
    FakeMagento,
    bigcommerce_order,
    magento_order,
    serving,
    woo_order,
)


def orders_of(session: Session, platform: str) -> list[Order]:
    session.expire_all()
    rows = list(session.scalars(select(Order).filter_by(platform=platform).order_by(Order.number).options(
        selectinload(Order.line_items), selectinload(Order.fulfillments), selectinload(Order.refunds))))
    session.commit()
    return rows


def count(session: Session, model: Any) -> int:
    n = session.scalar(select(func.count()).select_from(model)) or 0
    session.commit()
    return n


# --- WooCommerce ----------------------------------------------------------------------------

def woo_post(client: FlaskClient, payload: Any, *, topic: str = "order.created", delivery: str = "1",
             secret: str = WOO_SECRET, signature: str | None = None) -> Any:
    body = json.dumps(payload).encode()
    headers = {"X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "created",
               "X-WC-Webhook-Source": "https://woo.example/", "X-WC-Webhook-ID": "12",
               "X-WC-Webhook-Delivery-ID": delivery, "Content-Type": "application/json",
               "X-WC-Webhook-Signature": hmac_b64(secret, body) if signature is None else signature}
    return client.post("/webhooks/woocommerce", data=body, headers=headers)


def test_woocommerce_creation_ping_gets_200_and_changes_nothing(client: FlaskClient, session: Session) -> None:
    response = client.post("/webhooks/woocommerce", data="webhook_id=12",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert count(session, WebhookDelivery) == 0 and count(session, Order) == 0


def test_woocommerce_signed_order_is_stored_with_tracking_and_payment(client: FlaskClient, session: Session) -> None:
    response = woo_post(client, woo_order(refunds=[{"id": 9, "reason": "damaged", "total": "-6.00"}]))
    assert response.status_code == 200, response.get_json()
    [order] = orders_of(session, "woocommerce")
    assert (order.shop, order.number, order.total, order.currency) == ("woo.example", "727", Decimal("29.35"), "EUR")
    assert (order.gateway, order.financial_status) == ("Credit card (Stripe)", "partially_refunded")
    assert [(li.title, li.quantity, li.price) for li in order.line_items] == [
        ("Woo Single #1", 2, Decimal("3.00")), ("Ship Your Idea - Color: Black", 1, Decimal("12.00"))]
    [parcel] = order.fulfillments
    assert (parcel.carrier, parcel.tracking_number) == ("DHL", "JD014600003828")
    assert parcel.tracking_url.startswith("https://www.dhl.com/") and "JD014600003828" in parcel.tracking_url
    assert order.refunded_total == Decimal("6.00")


@pytest.mark.parametrize("signature", ["", "d3Jvbmc=", None])
def test_woocommerce_bad_signature_gets_401_and_stores_nothing(client: FlaskClient, session: Session,
                                                               signature: str | None) -> None:
    response = woo_post(client, woo_order(), signature=signature, secret="another secret")
    assert response.status_code == 401
    assert count(session, Order) == 0 and count(session, WebhookDelivery) == 0


def test_woocommerce_repeat_delivery_and_older_update_change_nothing(client: FlaskClient, session: Session) -> None:
    woo_post(client, woo_order(status="completed", modified="2026-03-23T10:00:00"), delivery="a")
    assert woo_post(client, woo_order(status="cancelled", modified="2026-03-24T10:00:00"),
                    delivery="a").get_json()["result"] == "duplicate"
    assert woo_post(client, woo_order(status="processing", modified="2026-03-22T10:00:00"), topic="order.updated",
                    delivery="b").get_json()["result"] == "stale"
    [order] = orders_of(session, "woocommerce")
    assert (order.status, order.fulfillment_status) == ("closed", "fulfilled")


def test_woocommerce_wrong_types_get_422(client: FlaskClient, session: Session) -> None:
    response = woo_post(client, woo_order(total={"amount": 1}))
    assert response.status_code == 422 and "total" in response.get_json()["error"]["message"]
    assert count(session, Order) == 0


# --- BigCommerce ----------------------------------------------------------------------------

BC_SECRET = {"X-Webhook-Secret": "s3cret"}


def bc_hook(order_id: int, scope: str = "store/order/statusUpdated", digest: str = "dd70c0976e06b67a") -> dict:
    return {"scope": scope, "store_id": "1025646", "data": {"type": "order", "id": order_id},
            "hash": digest, "created_at": 1774346400, "producer": "stores/abc123"}


def test_bigcommerce_id_only_webhook_fetches_the_order_with_items_and_tracking(
        app: Flask, client: FlaskClient, session: Session, run_jobs: Any) -> None:
    fake = FakeBigCommerce(credentials={"X-Auth-Token": "bc-token"}, orders={250: bigcommerce_order()},
                           products={250: [{"id": 1, "order_id": 250, "name": "Orbit Terrarium - Large", "sku": "OTL",
                                            "quantity": 2, "base_price": "20.0000", "price_inc_tax": "22.5000"}]},
                           shipments={250: [{"id": 7, "order_id": 250, "tracking_number": "9400111899223197428490",
                                             "shipping_provider": "usps", "tracking_link": "",
                                             "date_created": "Tue, 24 Mar 2026 09:00:00 +0000"}]})
    with serving(fake):
        app.config.update(BIGCOMMERCE_STORE_HASH="abc123", BIGCOMMERCE_ACCESS_TOKEN="bc-token",
                          BIGCOMMERCE_API_URL=fake.url, BIGCOMMERCE_WEBHOOK_SECRET="s3cret")
        response = client.post("/webhooks/bigcommerce", json=bc_hook(250), headers=BC_SECRET)
        assert response.status_code == 200 and response.get_json()["result"] == "fetching"
        assert count(session, Order) == 0  # the body carried only the id
        assert run_jobs() == 1
    [order] = orders_of(session, "bigcommerce")
    assert (order.number, order.total, order.gateway, order.fulfillment_status) == (
        "250", Decimal("50.00"), "PayPal", "fulfilled")
    assert [(li.title, li.quantity, li.price) for li in order.line_items] == [
        ("Orbit Terrarium - Large", 2, Decimal("22.50"))]
    assert order.fulfillments[0].tracking_url == (
        "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223197428490")
    assert {r.path for r in fake.requests} == {"/stores/abc123/v2/orders/250", "/stores/abc123/v2/orders/250/products",
                                               "/stores/abc123/v2/orders/250/shipments"}


def test_bigcommerce_repeat_and_garbage_change_nothing(app: Flask, client: FlaskClient, session: Session) -> None:
    app.config.update(BIGCOMMERCE_STORE_HASH="abc123", BIGCOMMERCE_ACCESS_TOKEN="t", BIGCOMMERCE_API_URL="http://127.0.0.1:9",
                      BIGCOMMERCE_WEBHOOK_SECRET="s3cret")
    assert client.post("/webhooks/bigcommerce", json=bc_hook(250), headers=BC_SECRET).status_code == 200
    again = client.post("/webhooks/bigcommerce", json=bc_hook(250), headers=BC_SECRET)
    assert again.get_json()["result"] == "duplicate"
    assert count(session, Job) == 1
    bad = client.post("/webhooks/bigcommerce", json={"scope": "store/order/created", "data": {"id": [1]}},
                      headers=BC_SECRET)
    assert bad.status_code == 422
    assert client.post("/webhooks/bigcommerce", data=b"nope", headers=BC_SECRET).status_code == 400
    assert count(session, Job) == 1


def test_bigcommerce_webhook_secret_header_is_required(app: Flask, client: FlaskClient, session: Session) -> None:
    app.config.update(BIGCOMMERCE_STORE_HASH="abc123", BIGCOMMERCE_ACCESS_TOKEN="t",
                      BIGCOMMERCE_API_URL="http://127.0.0.1:9", BIGCOMMERCE_WEBHOOK_SECRET="s3cret")
    missing = client.post("/webhooks/bigcommerce", json=bc_hook(1))
    assert missing.status_code == 401 and missing.get_json()["error"]["code"] == "invalid_signature"
    wrong = client.post("/webhooks/bigcommerce", json=bc_hook(1), headers={"X-Webhook-Secret": "s3cre"})
    assert wrong.status_code == 401
    ok = client.post("/webhooks/bigcommerce", json=bc_hook(1), headers=BC_SECRET)
    assert ok.status_code == 200 and ok.get_json()["result"] == "fetching"
    assert count(session, WebhookDelivery) == 1


# --- Magento --------------------------------------------------------------------------------

def test_magento_pull_takes_orders_since_the_watermark_and_comes_again(app: Flask, session: Session,
                                                                       run_jobs: Any) -> None:
    fake = FakeMagento(credentials={"Authorization": "Bearer mg-token"},
                       orders=[magento_order(1, updated_at="2026-03-20 10:00:00"),
                               magento_order(2, updated_at="2026-03-21 10:00:00", status="complete")])
    with serving(fake):
        app.config.update(MAGENTO_URL=fake.url, MAGENTO_ACCESS_TOKEN="mg-token", MAGENTO_PULL_SECONDS=600)
        with db_of(app).unit_of_work() as s:
            sync.ensure_magento_pull(s)
        assert run_jobs() == 1
        orders = orders_of(session, "magento")
        assert [o.number for o in orders] == ["000000001", "000000002"]
        assert [(li.title, li.quantity) for li in orders[0].line_items] == [("Linen shirt", 1)]  # child line folded
        assert (orders[0].gateway, orders[0].total, orders[1].fulfillment_status) == (
            "braintree", Decimal("119.00"), "fulfilled")
        state = session.scalar(select(SyncState).filter_by(platform="magento"))
        assert state.watermark == "2026-03-21 10:00:00"
        next_pull = session.scalar(select(Job).filter_by(kind=sync.MAGENTO_PULL, state=JobState.queued))
        assert next_pull is not None and (next_pull.run_at - next_pull.created_at).total_seconds() > 590
        session.commit()
        # The shop changes an order; the next pull asks only for what changed since the watermark.
        fake.orders[0] = magento_order(1, updated_at="2026-03-22 08:00:00", status="canceled")
        with db_of(app).unit_of_work() as s:
            s.get(Job, next_pull.id).run_at = next_pull.created_at
        assert run_jobs() == 1
    second = fake.requests[-1].query
    assert second["searchCriteria[filter_groups][0][filters][0][value]"] == ["2026-03-21 10:00:00"]
    assert second["searchCriteria[filter_groups][0][filters][0][condition_type]"] == ["gteq"]
    cancelled = orders_of(session, "magento")[0]
    assert (cancelled.status, cancelled.cancelled) == ("cancelled", True)


def test_the_worker_starts_magento_pulls_once_magento_is_configured(app: Flask, session: Session) -> None:
    def pending_pulls() -> int:
        with db_of(app).unit_of_work() as s:
            return len(s.scalars(select(Job).filter_by(kind=sync.MAGENTO_PULL, state=JobState.queued)).all())

    sync.start_pulls_job(runtime_of(app).context(), {})
    assert pending_pulls() == 0  # not configured: nothing to pull
    app.config.update(MAGENTO_URL="http://127.0.0.1:9", MAGENTO_ACCESS_TOKEN="mg-token")
    for _ in range(2):
        sync.start_pulls_job(runtime_of(app).context(), {})
    assert pending_pulls() == 1  # started once, not twice
