"""Backfills through the fake Admin APIs: paging, Retry-After, restarts, the CLI's progress bar."""

from __future__ import annotations

import os
from typing import Any

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk import db_of
from helpdesk.cli import cli
from helpdesk.jobs import Job, JobState, Worker
from helpdesk.orders import sync
from helpdesk.orders.models import Order, SyncState
from helpdesk.runtime import runtime_of
from tests.orders.conftest import SHOP
from tests.orders.fakes import FakeShopify, FakeWooCommerce, serving, shopify_order, woo_order

TOKEN = "shpat_backfill"


def shopify_orders(n: int) -> list[dict[str, Any]]:
    return [shopify_order(order_id=9000 + i, number=2000 + i, email=f"buyer{i % 3}@example.com",
                          updated_at=f"2026-01-{i + 1:02d}T10:00:00Z") for i in range(n)]


def stored_numbers(session: Session, platform: str = "shopify") -> list[str]:
    numbers = sorted(session.scalars(select(Order.number).filter_by(platform=platform)))
    session.commit()
    return numbers


def state_of(session: Session, platform: str, shop: str) -> SyncState:
    state = session.scalar(select(SyncState).filter_by(platform=platform, shop=shop))
    session.commit()
    return state


def configure_shopify(app: Flask, fake: FakeShopify) -> None:
    app.config.update(SHOPIFY_ACCESS_TOKEN=TOKEN, SHOPIFY_API_URL=f"{fake.url}/admin/api/2025-01")


def test_shopify_backfill_follows_link_header_pages_one_job_per_page(app: Flask, session: Session,
                                                                      run_jobs: Any) -> None:
    with serving(FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=shopify_orders(5))) as fake:
        configure_shopify(app, fake)
        with db_of(app).unit_of_work() as s:
            sync.start_backfill(s, app.config, "shopify")
        assert run_jobs() == 3  # pages of 2, 2 and 1
    assert stored_numbers(session) == ["2000", "2001", "2002", "2003", "2004"]
    state = state_of(session, "shopify", SHOP)
    assert (state.backfill_state, state.backfill_seen, state.backfill_total) == ("done", 5, 5)
    pages = [r.query for r in fake.requests if r.path.endswith("/orders.json")]
    assert pages[0]["status"] == ["any"] and "page_info" not in pages[0]
    assert all(set(p) == {"limit", "page_info"} for p in pages[1:])  # Shopify refuses filters beside page_info


def test_backfill_honours_retry_after_of_a_429(app: Flask, session: Session, run_jobs: Any) -> None:
    shop = FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=shopify_orders(1), throttle_next=1,
                       retry_after="30")
    with serving(shop) as fake:
        configure_shopify(app, fake)
        with db_of(app).unit_of_work() as s:
            sync.start_backfill(s, app.config, "shopify")
        assert run_jobs() == 1
        job = session.scalar(select(Job).filter_by(kind=sync.BACKFILL))
        session.commit()
        assert job.state == JobState.queued and "rate limited" in job.last_error
        wait = (job.run_at - job.created_at).total_seconds()
        assert 29 <= wait <= 32
        with db_of(app).unit_of_work() as s:  # time passes
            s.get(Job, job.id).run_at = job.created_at
        assert run_jobs() == 1
    assert stored_numbers(session) == ["2000"]


def test_backfill_survives_a_worker_dying_mid_run(app: Flask, session: Session) -> None:
    with serving(FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=shopify_orders(5))) as fake:
        configure_shopify(app, fake)
        with db_of(app).unit_of_work() as s:
            sync.start_backfill(s, app.config, "shopify")
        assert Worker(runtime_of(app)).run_one()  # one page stored, then the process "dies"
        assert stored_numbers(session) == ["2000", "2001"]
        assert state_of(session, "shopify", SHOP).backfill_cursor
        # A new worker (after a restart) goes on from the stored cursor, not from the start.
        assert Worker(runtime_of(app)).run_until_idle() == 2
    assert stored_numbers(session) == ["2000", "2001", "2002", "2003", "2004"]
    first_pages = [r for r in fake.requests if r.path.endswith("/orders.json") and "page_info" not in r.query]
    assert len(first_pages) == 1


def test_backfill_of_one_customer_reads_their_orders_only(app: Flask, session: Session, run_jobs: Any) -> None:
    orders = shopify_orders(4)
    customer_id = str(orders[1]["customer"]["id"])
    with serving(FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=orders)) as fake:
        configure_shopify(app, fake)
        with db_of(app).unit_of_work() as s:
            sync.start_backfill(s, app.config, "shopify", customer_id=customer_id)
        run_jobs()
    assert stored_numbers(session) == ["2001"]
    assert fake.requests[0].path == f"/admin/api/2025-01/customers/{customer_id}/orders.json"


def test_woocommerce_backfill_pages_by_x_wp_totalpages_with_basic_auth(app: Flask, session: Session,
                                                                        run_jobs: Any) -> None:
    import base64

    auth = "Basic " + base64.b64encode(b"ck_key:cs_secret").decode()
    orders = [woo_order(order_id=700 + i, modified=f"2026-03-2{i}T10:00:00") for i in range(3)]
    with serving(FakeWooCommerce(credentials={"Authorization": auth}, orders=orders)) as fake:
        app.config.update(WOOCOMMERCE_URL=fake.url, WOOCOMMERCE_CONSUMER_KEY="ck_key",
                          WOOCOMMERCE_CONSUMER_SECRET="cs_secret")
        with db_of(app).unit_of_work() as s:
            sync.start_backfill(s, app.config, "woocommerce")
        assert run_jobs() == 2
    assert stored_numbers(session, "woocommerce") == ["700", "701", "702"]
    assert [r.query["page"] for r in fake.requests] == [["1"], ["2"]]


def test_backfill_of_an_unconfigured_platform_is_refused(app: Flask) -> None:
    import pytest

    from helpdesk.errors import Invalid

    with pytest.raises(Invalid, match="not configured"), db_of(app).unit_of_work() as s:
        sync.start_backfill(s, app.config, "bigcommerce")


def test_cli_backfill_shows_a_progress_bar_and_imports_every_order(app: Flask, session: Session,
                                                                   app_config: dict[str, Any]) -> None:
    with serving(FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=shopify_orders(5))) as fake:
        env = {"HELPDESK_DATABASE_URL": app_config["DATABASE_URL"], "HELPDESK_SECRET_KEY": "x",
               "HELPDESK_INSTANCE_PATH": app_config["INSTANCE_PATH"], "HELPDESK_RUN_MIGRATIONS": "0",
               "HELPDESK_SHOPIFY_SHOP": SHOP, "HELPDESK_SHOPIFY_ACCESS_TOKEN": TOKEN,
               "HELPDESK_SHOPIFY_API_URL": f"{fake.url}/admin/api/2025-01"}
        result = CliRunner().invoke(cli, ["orders", "backfill", "--platform", "shopify"], env=env)
    assert result.exit_code == 0, result.output
    assert "shopify orders" in result.output and "5/5" in result.output
    assert "imported 5 shopify orders" in result.output
    assert session.scalar(select(func.count(Order.id))) == 5


def test_cli_backfill_of_an_unconfigured_platform_says_so(app_config: dict[str, Any]) -> None:
    env = {"HELPDESK_DATABASE_URL": app_config["DATABASE_URL"], "HELPDESK_SECRET_KEY": "x",
           "HELPDESK_INSTANCE_PATH": app_config["INSTANCE_PATH"], "HELPDESK_RUN_MIGRATIONS": "0"}
    env.update({k: "" for k in os.environ if k.startswith("HELPDESK_MAGENTO")})
    result = CliRunner().invoke(cli, ["orders", "backfill", "--platform", "magento"], env=env)
    assert result.exit_code == 2 and "magento is not configured" in result.output
