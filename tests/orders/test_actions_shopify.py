"""Order actions on Shopify's Admin REST API (fake on 127.0.0.1 speaking its paths and JSON):
refunds through refunds/calculate then refunds, cancel, reship as a zero-price draft, address,
resending the confirmation; limits, idempotency, bad input, shop failures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.accounts.models import Agent, AuditEntry
from helpdesk.orders.models import OrderAction
from helpdesk.orders.shopify import ShopifyConnector
from helpdesk.tickets.models import Message
from tests.factories import make_conversation, make_inbox
from tests.orders.actions_helpers import api_for, order_row, store
from tests.orders.conftest import SHOP
from tests.orders.fakes import FakeShopify, serving, shopify_order
from tests.servers import wait_until

TOKEN = "shpat_actions"


def small_order(order_id: int = 820982911, **changes: Any) -> dict[str, Any]:
    """80.00 USD: two lines of 35.00 and 10.00 shipping; not fulfilled."""
    order = shopify_order(order_id=order_id, number=1100, email="ann@example.com",
                          updated_at="2026-01-01T10:00:00-00:00")
    order.update(total_price="80.00", subtotal_price="70.00", total_tax="0.00", financial_status="paid",
                 fulfillment_status=None, fulfillments=[], shipping_lines=[{"price": "10.00", "title": "Post"}],
                 line_items=[{"id": 1001, "variant_id": 39072856, "title": "Mug", "quantity": 1, "price": "35.00"},
                             {"id": 1002, "variant_id": 49148385, "title": "Cup", "quantity": 1, "price": "35.00"}],
                 refunds=[])
    order.update(changes)
    return order


@pytest.fixture
def shop(app: Flask) -> Iterator[FakeShopify]:
    fake = FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=[small_order()])
    with serving(fake):
        app.config.update(SHOPIFY_ACCESS_TOKEN=TOKEN, SHOPIFY_API_URL=f"{fake.url}/admin/api/2025-01")
        yield fake


@pytest.fixture
def order_id(app: Flask, shop: FakeShopify) -> str:
    return store(app, ShopifyConnector(SHOP, ""), shop.orders[0])


@pytest.fixture
def api(app: Flask, client: FlaskClient, agent: Agent) -> Callable[..., Any]:
    return api_for(app, client, agent)


def test_refund_of_an_amount_goes_through_calculate_then_refunds(app: Flask, api: Any, shop: FakeShopify,
                                                                order_id: str, run_jobs: Any) -> None:
    answer = api("post", f"/orders/{order_id}/actions", "k1", json={"type": "refund", "amount": "12.50",
                                                                     "reason": "damaged"})
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["status"] == "pending" and answer.get_json()["amount"] == "12.50"
    assert shop.writes() == []  # nothing reaches the shop inside the request
    run_jobs()
    [action] = api("get", f"/orders/{order_id}/actions").get_json()["data"]
    assert (action["status"], action["summary"]) == ("done", "Refunded 12.50 USD"), action
    paths = [r.path.rsplit("/", 2)[-2:] for r in shop.writes()]
    assert paths == [["refunds", "calculate.json"], ["820982911", "refunds.json"]]
    sent = shop.writes()[1].body["refund"]
    assert sent["transactions"] == [{"parent_id": 801038806, "amount": "12.50", "kind": "refund", "gateway": "bogus"}]
    order = order_row(app, order_id)  # refreshed from the shop afterwards
    assert order.refunded_total == Decimal("12.50") and order.financial_status == "partially_refunded"


def test_refund_by_line_items_restocks_them(app: Flask, api: Any, shop: FakeShopify, order_id: str,
                                            run_jobs: Any) -> None:
    answer = api("post", f"/orders/{order_id}/actions", "k2", json={
        "type": "refund", "line_items": [{"id": "1002", "quantity": 1}], "restock": True, "shipping": True})
    assert answer.status_code == 202 and answer.get_json()["amount"] == "45.00"
    run_jobs()
    calc = shop.writes()[0].body["refund"]
    assert calc["refund_line_items"] == [{"line_item_id": 1002, "quantity": 1, "restock_type": "return"}]
    assert calc["shipping"] == {"amount": "10.00"}
    assert shop.writes()[1].body["refund"]["transactions"][0]["amount"] == "45.00"
    assert order_row(app, order_id).refunded_total == Decimal("45.00")


def test_whole_refund_needs_a_manager_above_the_agent_limit(app: Flask, client: FlaskClient, api: Any,
                                                            manager: Agent, shop: FakeShopify, order_id: str,
                                                            run_jobs: Any) -> None:
    app.config["REFUND_LIMIT_AGENT"] = "50"
    refused = api("post", f"/orders/{order_id}/actions", "k3", json={"type": "refund"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "limit_exceeded"
    assert api("get", f"/orders/{order_id}/actions").get_json()["data"] == []
    as_manager = api_for(app, client, manager)
    assert as_manager("post", f"/orders/{order_id}/actions", "k3", json={"type": "refund"}).status_code == 202
    run_jobs()
    assert shop.writes() and order_row(app, order_id).financial_status == "refunded"
    assert order_row(app, order_id).refunded_total == Decimal("80.00")


def test_manager_limit_applies_when_set(app: Flask, client: FlaskClient, manager: Agent, order_id: str,
                                        shop: FakeShopify) -> None:
    app.config["REFUND_LIMIT_MANAGER"] = "20"
    answer = api_for(app, client, manager)("post", f"/orders/{order_id}/actions", "m1",
                                           json={"type": "refund", "amount": 25})
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "limit_exceeded"
    assert shop.writes() == []


def test_same_idempotency_key_makes_one_refund(app: Flask, api: Any, shop: FakeShopify, order_id: str,
                                               run_jobs: Any) -> None:
    first = api("post", f"/orders/{order_id}/actions", "same", json={"type": "refund", "amount": "5"})
    again = api("post", f"/orders/{order_id}/actions", "same", json={"type": "refund", "amount": "5"})
    assert first.get_json()["id"] == again.get_json()["id"] and again.status_code == 202
    run_jobs()
    after = api("post", f"/orders/{order_id}/actions", "same", json={"type": "refund", "amount": "5"})
    assert after.get_json()["status"] == "done"
    assert len([r for r in shop.writes() if r.path.endswith("/refunds.json")]) == 1
    assert api("post", f"/orders/{order_id}/actions", json={"type": "refund", "amount": "5"}).status_code == 422
    other = api("post", f"/orders/{order_id}/actions", "same", json={"type": "cancel"})
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(("body", "code"), [
    ({"type": "refund", "amount": "-5"}, "invalid_amount"),
    ({"type": "refund", "amount": "ten"}, "invalid_amount"),
    ({"type": "refund", "amount": True}, "invalid_amount"),
    ({"type": "refund", "amount": "0"}, "invalid_amount"),
    ({"type": "refund", "amount": "80.01"}, "amount_exceeds_remaining"),
    ({"type": "refund", "line_items": [{"id": "466157049", "quantity": 1}]}, "unknown_line_item"),
    ({"type": "update_address", "address": {"address1": "1 Main St", "city": "Ottawa"}}, "invalid_address"),
    ({"type": "explode"}, "invalid_type"),
])
def test_bad_input_is_refused_and_nothing_is_sent(app: Flask, api: Any, shop: FakeShopify, order_id: str,
                                                  run_jobs: Any, body: dict[str, Any], code: str) -> None:
    answer = api("post", f"/orders/{order_id}/actions", "bad", json=body)
    assert answer.status_code in (403, 409, 422), answer.get_json()
    assert answer.get_json()["error"]["code"] == code
    run_jobs()
    assert shop.writes() == []
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(OrderAction)) == 0


def test_actions_on_cancelled_or_refunded_orders_are_refused(app: Flask, api: Any, shop: FakeShopify) -> None:
    conn = ShopifyConnector(SHOP, "")
    cancelled = store(app, conn, small_order(9101, cancelled_at="2026-01-02T10:00:00-00:00"))
    refunded = store(app, conn, small_order(9102, financial_status="refunded", refunds=[{
        "id": 5, "order_id": 9102, "created_at": "2026-01-02T10:00:00-00:00",
        "transactions": [{"kind": "refund", "status": "success", "amount": "80.00"}]}]))
    one = api("post", f"/orders/{cancelled}/actions", "c", json={"type": "refund", "amount": "1"})
    two = api("post", f"/orders/{refunded}/actions", "r", json={"type": "refund", "amount": "1"})
    assert (one.status_code, one.get_json()["error"]["code"]) == (409, "order_cancelled")
    assert (two.status_code, two.get_json()["error"]["code"]) == (409, "already_refunded")
    assert shop.writes() == []


def test_shop_refusal_leaves_the_action_failed_with_the_shops_message(app: Flask, api: Any, shop: FakeShopify,
                                                                    order_id: str, run_jobs: Any) -> None:
    shop.gateway_balance = 5.0  # the gateway has less than the refund: "insufficient funds"
    api("post", f"/orders/{order_id}/actions", "f1", json={"type": "refund", "amount": "20"})
    run_jobs()
    [action] = api("get", f"/orders/{order_id}/actions").get_json()["data"]
    assert action["status"] == "failed" and "insufficient funds" in action["error"]
    order = order_row(app, order_id)
    assert order.refunded_total == Decimal("0") and order.financial_status == "paid"


def test_rate_limit_waits_and_then_refunds_once(app: Flask, api: Any, shop: FakeShopify, order_id: str,
                                                run_jobs: Any) -> None:
    shop.throttle_writes, shop.retry_after = 1, "0"
    api("post", f"/orders/{order_id}/actions", "t1", json={"type": "refund", "amount": "3"})
    run_jobs()
    with db_of(app).unit_of_work() as s:  # the job waits for Retry-After without failing
        assert s.scalar(select(OrderAction.status)).value == "pending"

    def finished() -> bool:  # due again after the shortest wait the queue allows
        run_jobs()
        with db_of(app).unit_of_work() as s:
            return s.scalar(select(OrderAction.status)).value != "pending"

    wait_until(finished, timeout=10)
    [action] = api("get", f"/orders/{order_id}/actions").get_json()["data"]
    assert action["status"] == "done"
    assert len([r for r in shop.writes() if r.path.endswith("/refunds.json")]) == 1


def test_cancel_with_refund_and_restock_notes_and_tells_the_shopper(app: Flask, manager: Agent, client: FlaskClient,
                                                                   shop: FakeShopify, order_id: str,
                                                                   run_jobs: Any) -> None:
    inbox = make_inbox(app)[0]
    conv = make_conversation(app, inbox, email="ann@example.com").public_id
    api = api_for(app, client, manager)
    answer = api("post", f"/orders/{order_id}/actions", "c1", json={
        "type": "cancel", "restock": True, "refund": True, "reason": "customer", "notify_customer": True,
        "conversation_id": conv})
    assert answer.status_code == 202, answer.get_json()
    run_jobs()
    sent = next(r for r in shop.writes() if r.path.endswith("/cancel.json")).body
    assert sent == {"reason": "customer", "email": True, "restock": True, "amount": "80.00", "currency": "USD"}
    order = order_row(app, order_id)
    assert order.cancelled and order.refunded_total == Decimal("80.00")
    with db_of(app).unit_of_work() as s:
        texts = [(m.private, m.body_text) for m in s.scalars(select(Message).order_by(Message.id))]
        audits = [a.action for a in s.scalars(select(AuditEntry).filter(AuditEntry.target_type == "order"))]
    assert (True, "Order #1100: Cancelled and restocked, refunded 80.00 USD") in texts
    assert any(not private and "cancelled and 80.00 USD is refunded" in body for private, body in texts)
    assert audits == ["orders.action_requested", "orders.action_done"]


def test_cancel_of_a_fulfilled_order_is_refused_before_the_shop(app: Flask, api: Any, shop: FakeShopify) -> None:
    fulfilled = store(app, ShopifyConnector(SHOP, ""), small_order(9103, fulfillment_status="fulfilled"))
    answer = api("post", f"/orders/{fulfilled}/actions", "x", json={"type": "cancel", "refund": False})
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (409, "already_fulfilled")
    assert shop.writes() == []


def test_shop_says_already_fulfilled_and_the_action_fails(app: Flask, api: Any, shop: FakeShopify, order_id: str,
                                                          run_jobs: Any) -> None:
    shop.orders[0]["fulfillment_status"] = "fulfilled"  # shipped meanwhile; our copy does not know yet
    api("post", f"/orders/{order_id}/actions", "x", json={"type": "cancel", "refund": False})
    run_jobs()
    [action] = api("get", f"/orders/{order_id}/actions").get_json()["data"]
    assert action["status"] == "failed" and "has been fulfilled" in action["error"]
    assert not order_row(app, order_id).cancelled


def test_reship_makes_a_zero_price_draft_of_the_same_variants(app: Flask, api: Any, shop: FakeShopify,
                                                             order_id: str, run_jobs: Any) -> None:
    api("post", f"/orders/{order_id}/actions", "r1", json={"type": "reship", "line_items": [{"id": "1001"}],
                                                            "reason": "lost in the post"})
    run_jobs()
    [draft] = shop.drafts
    assert [(li["variant_id"], li["quantity"], li["applied_discount"]["value"]) for li in draft["line_items"]] == [
        (39072856, 1, "100.0")]
    assert draft["shipping_line"]["price"] == "0.00" and "lost in the post" in draft["note"]
    [action] = api("get", f"/orders/{order_id}/actions").get_json()["data"]
    assert action["status"] == "done" and "zero price" in action["summary"]


def test_reship_as_a_completed_order(app: Flask, api: Any, shop: FakeShopify, order_id: str, run_jobs: Any) -> None:
    api("post", f"/orders/{order_id}/actions", "r2", json={"type": "reship", "complete": True})
    run_jobs()
    assert shop.drafts[0]["status"] == "completed" and len(shop.drafts[0]["line_items"]) == 2


def test_address_update_before_fulfilment(app: Flask, api: Any, shop: FakeShopify, order_id: str,
                                          run_jobs: Any) -> None:
    address = {"first_name": "Ann", "last_name": "Lee", "address1": "2 New Street", "city": "Leeds",
               "zip": "LS1 1AA", "country": "GB"}
    assert api("post", f"/orders/{order_id}/actions", "a1",
               json={"type": "update_address", "address": address}).status_code == 202
    run_jobs()
    assert shop.orders[0]["shipping_address"] == address
    assert order_row(app, order_id).shipping_address["address1"] == "2 New Street"


def test_resend_confirmation_through_graphql(app: Flask, api: Any, shop: FakeShopify, order_id: str,
                                             run_jobs: Any) -> None:
    api("post", f"/orders/{order_id}/actions", "e1", json={"type": "resend_confirmation"})
    run_jobs()
    assert shop.emails_sent == ["gid://shopify/Order/820982911"]


def test_without_idempotency_key_nothing_is_queued(api: Any, order_id: str) -> None:
    answer = api("post", f"/orders/{order_id}/actions", json={"type": "refund", "amount": "1"})
    assert answer.get_json()["error"]["code"] == "missing_idempotency_key"


def test_an_order_of_a_shop_that_is_not_connected_is_refused(app: Flask, api: Any) -> None:
    order = store(app, ShopifyConnector("elsewhere.myshopify.com", ""), small_order(9200))
    answer = api("post", f"/orders/{order}/actions", "n1", json={"type": "refund", "amount": "1"})
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (422, "not_configured")
