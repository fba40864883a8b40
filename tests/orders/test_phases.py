"""Order jobs in phases: no transaction (no SQLite write lock) is open while a shop's API answers."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of, jobs
from helpdesk.orders import sync
from helpdesk.orders.models import Order, SyncState
from helpdesk.runtime import runtime_of
from tests.orders.fakes import FakeMagento, FakePlatform, FakeShopify, magento_order, serving, shopify_order
from tests.txprobe import WriteProbe

TOKEN = "shpat_phases"


def probed(fake: FakePlatform, database_url: str) -> WriteProbe:
    probe = WriteProbe(database_url)
    answer = fake.handle

    def handle(method: str, raw_path: str, headers: dict[str, str], body: Any = None) -> Any:
        probe.check()  # while the worker waits for this answer
        return answer(method, raw_path, headers, body)

    fake.handle = handle  # type: ignore[method-assign]
    return probe


def count_orders(app: Flask, platform: str) -> int:
    with db_of(app).unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(Order).filter_by(platform=platform)) or 0


def test_backfill_and_fetch_call_shopify_with_no_transaction_open(app: Flask, database_url: str,
                                                                  run_jobs: Any) -> None:
    orders = [shopify_order(order_id=7000 + i, number=3000 + i, email=f"b{i}@example.com") for i in range(5)]
    fake = FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=orders)
    with serving(fake):
        app.config.update(SHOPIFY_ACCESS_TOKEN=TOKEN, SHOPIFY_API_URL=f"{fake.url}/admin/api/2025-01")
        probe = probed(fake, database_url)
        with db_of(app).unit_of_work() as s:
            state = sync.start_backfill(s, app.config, "shopify")
            shop = state.shop
            jobs.enqueue(s, sync.FETCH, {"platform": "shopify", "order_id": "7002"})
        assert run_jobs() == 4  # three pages and the fetch
    probe.assert_never_held()
    assert count_orders(app, "shopify") == 5
    with db_of(app).unit_of_work() as s:
        state = s.scalar(select(SyncState).filter_by(platform="shopify", shop=shop))
        assert (state.backfill_state, state.backfill_seen) == ("done", 5)


def test_a_page_stored_twice_counts_once(app: Flask, run_jobs: Any) -> None:
    """A redelivered page job (its worker died after storing) finds the cursor moved and adds nothing."""
    orders = [shopify_order(order_id=7100 + i, number=3100 + i, email="c@example.com") for i in range(3)]
    fake = FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=orders)
    with serving(fake):
        app.config.update(SHOPIFY_ACCESS_TOKEN=TOKEN, SHOPIFY_API_URL=f"{fake.url}/admin/api/2025-01")
        with db_of(app).unit_of_work() as s:
            sync.start_backfill(s, app.config, "shopify")
            first = s.scalar(select(jobs.Job).filter_by(kind=sync.BACKFILL))
            payload = dict(first.payload)
        run_jobs()
        sync.backfill_job(runtime_of(app).context(), payload)  # the first page once more
    with db_of(app).unit_of_work() as s:
        state = s.scalar(select(SyncState).filter_by(platform="shopify"))
        assert (state.backfill_state, state.backfill_seen) == ("done", 3)


def test_magento_pull_calls_magento_with_no_transaction_open(app: Flask, database_url: str,
                                                             run_jobs: Any) -> None:
    fake = FakeMagento(credentials={"Authorization": "Bearer mg-token"}, page_size=1,
                       orders=[magento_order(i, updated_at=f"2026-03-2{i} 10:00:00") for i in (1, 2, 3)])
    with serving(fake):
        app.config.update(MAGENTO_URL=fake.url, MAGENTO_ACCESS_TOKEN="mg-token", MAGENTO_PULL_SECONDS=600)
        probe = probed(fake, database_url)
        with db_of(app).unit_of_work() as s:
            sync.ensure_magento_pull(s)
        assert run_jobs() == 1
    probe.assert_never_held()
    assert count_orders(app, "magento") == 3
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(SyncState.watermark).filter_by(platform="magento")) == "2026-03-23 10:00:00"


def test_an_order_action_calls_the_shop_with_no_transaction_open(app: Flask, database_url: str, agent: Any,
                                                                 run_jobs: Any) -> None:
    from helpdesk.actors import agent_actor
    from helpdesk.orders import actions, services
    from helpdesk.orders.shopify import ShopifyConnector
    from tests.orders.conftest import SHOP

    order = shopify_order(order_id=7300, number=3300, email="d@example.com", financial_status="paid")
    fake = FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=[order])
    with serving(fake):
        app.config.update(SHOPIFY_ACCESS_TOKEN=TOKEN, SHOPIFY_API_URL=f"{fake.url}/admin/api/2025-01")
        probe = probed(fake, database_url)
        with db_of(app).unit_of_work() as s:
            stored, _ = services.upsert_order(s, agent_actor(agent), ShopifyConnector(SHOP, "").parse_order(order))
            actions.request_action(s, app.config, agent_actor(agent), stored, {"type": "refund", "amount": "9"}, "p1")
        assert run_jobs() == 1
    probe.assert_never_held()
    assert len(fake.writes()) == 2
