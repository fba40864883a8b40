"""Deliveries racing each other: the unique constraints keep one order and one delivery record."""

from __future__ import annotations

import json
import threading

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk.orders.models import Order, WebhookDelivery
from tests.orders.conftest import SHOP, SHOPIFY_SECRET, hmac_b64
from tests.orders.fakes import shopify_order

THREADS = 6


def test_simultaneous_deliveries_of_one_order_store_it_once(app: Flask, session: Session) -> None:
    statuses: list[int] = []
    start = threading.Barrier(THREADS * 2)

    def deliver(webhook_id: str, updated_at: str) -> None:
        body = json.dumps(shopify_order(updated_at=updated_at)).encode()
        headers = {"X-Shopify-Topic": "orders/updated", "X-Shopify-Shop-Domain": SHOP,
                   "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-Hmac-Sha256": hmac_b64(SHOPIFY_SECRET, body),
                   "Content-Type": "application/json"}
        client = app.test_client()
        start.wait(timeout=10)
        statuses.append(client.post("/webhooks/shopify", data=body, headers=headers).status_code)

    threads = [threading.Thread(target=deliver, args=(f"distinct-{i}", f"2026-01-01T10:00:{i:02d}Z"))
               for i in range(THREADS)]
    threads += [threading.Thread(target=deliver, args=("the-same-id", "2026-01-01T09:00:00Z"))
                for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert statuses == [200] * (THREADS * 2)
    assert session.scalar(select(func.count(Order.id))) == 1
    assert session.scalar(select(func.count(WebhookDelivery.id))) == THREADS + 1
    order = session.scalar(select(Order))
    # Whatever the arrival order, the newest update is the one kept.
    assert order.platform_updated_at.isoformat() == f"2026-01-01T10:00:{THREADS - 1:02d}+00:00"


def test_simultaneous_requests_with_one_idempotency_key_make_one_action(app: Flask, session: Session,
                                                                        agent: object) -> None:
    from helpdesk import db_of
    from helpdesk.accounts import services as accounts
    from helpdesk.accounts.models import Agent
    from helpdesk.actors import SYSTEM
    from helpdesk.jobs import Job
    from helpdesk.orders.models import OrderAction
    from tests.orders.conftest import make_order

    app.config.update(SHOPIFY_ACCESS_TOKEN="shpat_x")
    order_id = make_order(app, 1300, "ann@example.com", financial_status="paid")
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "tests")  # type: ignore[attr-defined]
    answers: list[tuple[int, str]] = []
    start = threading.Barrier(THREADS)

    def post() -> None:
        client = app.test_client()
        start.wait(timeout=10)
        r = client.post(f"/api/v1/orders/{order_id}/actions", json={"type": "refund", "amount": "5"},
                        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "race"})
        answers.append((r.status_code, (r.get_json() or {}).get("id", "")))

    threads = [threading.Thread(target=post) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [code for code, _ in answers] == [202] * THREADS, answers
    assert len({action for _, action in answers}) == 1
    assert session.scalar(select(func.count()).select_from(OrderAction)) == 1
    assert session.scalar(select(func.count()).select_from(Job).filter_by(kind="orders.action")) == 1
