"""POST /webhooks/shopify with Shopify's own sample payloads, signed as Shopify signs them."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from helpdesk.crm.models import Customer, Identity, IdentityKind
from helpdesk.orders.models import DeliveryState, Order, WebhookDelivery
from tests.orders.conftest import SHOP, SHOPIFY_SECRET, hmac_b64
from tests.orders.fakes import FakeShopify, serving, shopify_order, shopify_sample


def count(session: Session, model: Any) -> int:
    n = session.scalar(select(func.count()).select_from(model)) or 0
    session.commit()  # end the read: SQLite's next writer (the app) must not wait for us
    return n


def the_order(session: Session, order_id: str = "450789469") -> Order:
    """The stored order, loaded whole; the read transaction is closed before it is returned."""
    session.expire_all()
    order = session.scalar(select(Order).filter_by(platform="shopify", order_id=order_id).options(
        selectinload(Order.line_items), selectinload(Order.fulfillments), selectinload(Order.refunds)))
    session.commit()
    assert order is not None
    return order


def test_signed_orders_create_stores_the_whole_order(shopify_post: Any, session: Session) -> None:
    response = shopify_post("orders/create", shopify_sample()["order"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"ok": True, "result": "applied"}
    order = the_order(session)
    assert (order.shop, order.number, order.name) == (SHOP, "1001", "#1001")
    assert (order.total, order.currency, order.subtotal, order.tax_total) == (
        Decimal("409.94"), "USD", Decimal("398.00"), Decimal("11.94"))
    assert (order.gateway, order.financial_status) == ("authorize_net", "authorized")
    assert [(li.title, li.variant, li.quantity) for li in order.line_items] == [
        ("IPod Nano - 8gb", "green", 1), ("IPod Nano - 8gb", "red", 1), ("IPod Nano - 8gb", "black", 1)]
    [parcel] = order.fulfillments
    assert parcel.tracking_number == "1Z2345"
    assert parcel.tracking_url.startswith("http://wwwapps.ups.com/etracking/tracking.cgi?InquiryNumber1=1Z2345")
    assert order.placed_at.isoformat() == "2008-01-10T16:00:00+00:00"
    # The shopper is a helpdesk customer, known by email and by the shop's customer id.
    customer = session.get(Customer, order.customer_id)
    assert customer.email == "bob.norman@hostmail.com" and customer.name == "Bob Norman"
    external = session.scalar(select(Identity).filter_by(customer_id=customer.id, kind=IdentityKind.external))
    assert (external.provider, external.value) == (f"shopify:{SHOP}", "207119551")


@pytest.mark.parametrize("how", ["missing", "wrong secret", "garbage", "body changed after signing"])
def test_bad_or_missing_hmac_gets_401_and_stores_nothing(shopify_post: Any, session: Session, how: str) -> None:
    body = json.dumps(shopify_sample()["order"]).encode()
    signature = {"missing": "", "wrong secret": hmac_b64("not the secret", body), "garbage": "bm90IGEgbWFj",
                 "body changed after signing": hmac_b64(SHOPIFY_SECRET, body + b" ")}[how]
    response = shopify_post("orders/create", None, body=body, signature=signature)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert count(session, Order) == 0 and count(session, WebhookDelivery) == 0


def test_without_a_configured_secret_every_delivery_is_refused(app: Flask, shopify_post: Any,
                                                               session: Session) -> None:
    app.config["SHOPIFY_WEBHOOK_SECRET"] = None
    assert shopify_post("orders/create", shopify_sample()["order"], secret="").status_code == 401
    assert count(session, Order) == 0


def test_replayed_delivery_answers_200_and_changes_nothing(shopify_post: Any, session: Session) -> None:
    first = shopify_order(updated_at="2008-01-10T11:00:00-05:00")
    assert shopify_post("orders/create", first, webhook_id="delivery-1").status_code == 200
    # The same delivery id again, even with a (validly signed) different body, is a replay.
    replay = shopify_order(updated_at="2009-01-01T00:00:00Z", financial_status="paid")
    response = shopify_post("orders/updated", replay, webhook_id="delivery-1")
    assert response.status_code == 200 and response.get_json()["result"] == "duplicate"
    assert the_order(session).financial_status == "authorized"
    assert count(session, WebhookDelivery) == 1


def test_orders_updated_before_orders_create_keeps_the_newer_data(shopify_post: Any, session: Session) -> None:
    newer = shopify_order(updated_at="2008-01-12T09:00:00Z", financial_status="paid", fulfillment_status="fulfilled")
    older = shopify_order(updated_at="2008-01-10T16:00:00Z", financial_status="pending", fulfillment_status=None)
    assert shopify_post("orders/updated", newer).get_json()["result"] == "applied"
    assert shopify_post("orders/create", older).get_json()["result"] == "stale"
    order = the_order(session)
    assert (order.financial_status, order.fulfillment_status) == ("paid", "fulfilled")
    assert order.platform_updated_at.isoformat() == "2008-01-12T09:00:00+00:00"
    assert count(session, Order) == 1


def test_fulfilled_and_cancelled_topics_update_the_order(shopify_post: Any, session: Session) -> None:
    shopify_post("orders/create", shopify_order(updated_at="2008-01-10T16:00:00Z", fulfillments=[]))
    assert the_order(session).fulfillments == []
    shopify_post("orders/fulfilled", shopify_order(updated_at="2008-01-11T16:00:00Z"))
    assert the_order(session).fulfillments[0].tracking_number == "1Z2345"
    shopify_post("orders/cancelled", shopify_order(updated_at="2008-01-12T16:00:00Z",
                                                   cancelled_at="2008-01-12T16:00:00Z", cancel_reason="customer"))
    order = the_order(session)
    assert (order.status, order.cancel_reason, order.cancelled) == ("cancelled", "customer", True)


def test_refunds_create_adds_the_refund_once(shopify_post: Any, session: Session) -> None:
    shopify_post("orders/create", shopify_order(financial_status="paid"))
    refund = shopify_sample("refund.json")["refund"]
    assert shopify_post("refunds/create", refund, webhook_id="r1").get_json()["result"] == "applied"
    assert shopify_post("refunds/create", refund, webhook_id="r2").status_code == 200  # a new id, same refund
    order = the_order(session)
    assert [(r.external_id, r.amount, r.note) for r in order.refunds] == [
        ("509562969", Decimal("209.00"), "it broke during shipping")]
    assert (order.refunded_total, order.financial_status) == (Decimal("209.00"), "partially_refunded")
    # A later order body without refunds does not take the refund away.
    later = shopify_order(updated_at="2009-01-01T00:00:00Z", financial_status="partially_refunded")
    shopify_post("orders/updated", later)
    assert the_order(session).refunded_total == Decimal("209.00")


def test_refund_for_an_unknown_order_fetches_the_order_from_the_admin_api(
        app: Flask, shopify_post: Any, session: Session, run_jobs: Any) -> None:
    order = shopify_order()
    order["refunds"] = [shopify_sample("refund.json")["refund"]]
    with serving(FakeShopify(credentials={"X-Shopify-Access-Token": "shpat_1"}, orders=[order])) as fake:
        app.config.update(SHOPIFY_ACCESS_TOKEN="shpat_1", SHOPIFY_API_URL=f"{fake.url}/admin/api/2025-01")
        response = shopify_post("refunds/create", shopify_sample("refund.json")["refund"])
        assert response.get_json()["result"] == "fetching"
        assert count(session, Order) == 0
        assert run_jobs() == 1
    stored = the_order(session)
    assert stored.refunded_total == Decimal("209.00") and len(stored.line_items) == 3
    assert [r.path for r in fake.requests] == ["/admin/api/2025-01/orders/450789469.json"]


def test_refund_for_an_unknown_order_is_parked_when_the_api_is_not_configured(
        shopify_post: Any, session: Session) -> None:
    response = shopify_post("refunds/create", shopify_sample("refund.json")["refund"], webhook_id="parked-1")
    assert response.status_code == 200 and response.get_json()["result"] == "parked"
    delivery = session.scalar(select(WebhookDelivery).filter_by(webhook_id="parked-1"))
    assert delivery.state == DeliveryState.parked and delivery.payload["id"] == 509562969


@pytest.mark.parametrize("change", [
    {"id": None}, {"updated_at": 12345}, {"total_price": "four hundred"}, {"currency": 840},
    {"line_items": "IPod"}, {"line_items": [{"quantity": 1}]}, {"created_at": "yesterday"},
    {"fulfillments": [{"tracking_number": "1Z"}]},
], ids=lambda c: ",".join(f"{k}={v!r}"[:30] for k, v in c.items()))
def test_payload_with_missing_fields_or_wrong_types_gets_422_and_writes_nothing(
        shopify_post: Any, session: Session, change: dict[str, Any]) -> None:
    payload = shopify_order(**change)
    response = shopify_post("orders/create", payload, webhook_id="bad-1")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_payload"
    assert count(session, Order) == 0 and count(session, Customer) == 0 and count(session, WebhookDelivery) == 0
    # The delivery was not marked as seen: the platform's retry of a fixed body is applied.
    assert shopify_post("orders/create", shopify_order(), webhook_id="bad-1").status_code == 200
    assert count(session, Order) == 1


def test_body_that_is_not_json_gets_400(shopify_post: Any, session: Session) -> None:
    response = shopify_post("orders/create", None, body=b"{not json")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "malformed_json"
    assert count(session, WebhookDelivery) == 0


def test_unknown_topic_is_acknowledged_and_ignored(shopify_post: Any, session: Session) -> None:
    response = shopify_post("products/update", {"id": 1})
    assert response.status_code == 200 and response.get_json()["result"] == "ignored"
    assert count(session, Order) == 0


def test_customers_update_renames_the_customer(shopify_post: Any, session: Session) -> None:
    shopify_post("orders/create", shopify_sample()["order"])
    customer = shopify_sample("customer.json")["customer"]
    customer.update(first_name="Robert", phone="+15556251199")
    assert shopify_post("customers/update", customer).status_code == 200
    session.expire_all()
    stored = session.get(Customer, the_order(session).customer_id)
    assert (stored.name, stored.phone) == ("Robert Norman", "+15556251199")
    assert count(session, Customer) == 1
