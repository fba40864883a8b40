"""The refund dialog in a real browser against `helpdesk run` (web and worker processes) and a
fake Shopify: the dialog shows the amount in the order's currency and the shop's own calculation,
and a confirmed refund reaches the shop once and shows as done on the card."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from helpdesk.orders.shopify import ShopifyConnector
from tests.conftest import PASSWORD, start_live_server, stop_live_server
from tests.factories import make_conversation, make_inbox
from tests.orders.actions_helpers import store
from tests.orders.conftest import SHOP
from tests.orders.fakes import FakeShopify, serving
from tests.orders.test_actions_shopify import TOKEN, small_order
from tests.orders.test_sidebar_browser import CHROMIUM_ARGS, SCREENS

pytestmark = pytest.mark.browser


@pytest.fixture
def shop() -> Iterator[FakeShopify]:
    fake = FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=[small_order()])
    with serving(fake):
        yield fake


def test_refund_dialog_shows_the_shops_calculation_and_refunds_once(app: Flask, agent: Any, shop: FakeShopify,
                                                                   database_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    store(app, ShopifyConnector(SHOP, ""), shop.orders[0])
    conv = make_conversation(app, make_inbox(app)[0], email="ann@example.com", body="My order #1100 broke")
    live = start_live_server(tmp_path, database_url, env={
        "HELPDESK_SHOPIFY_SHOP": SHOP, "HELPDESK_SHOPIFY_ACCESS_TOKEN": TOKEN,
        "HELPDESK_SHOPIFY_API_URL": f"{shop.url}/admin/api/2025-01"})
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(f"{live.url}/login")
                page.fill("input[name=email]", agent.email)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url("**/console**")
                page.goto(f"{live.url}/console/c/{conv.public_id}")
                page.click("#orders button:has-text('Refund…')")
                dialog = page.locator("dialog[open]")
                expect(dialog).to_be_visible()
                dialog.locator("input[value=amount]").check()
                dialog.locator("input[name=amount]").fill("12.50")
                expect(dialog.locator("[data-summary]")).to_have_text("Refund $12.50 to the customer.")
                expect(dialog.locator("[data-quote]")).to_have_text("The shop calculates $12.50.", timeout=15000)
                if SCREENS:
                    page.screenshot(path=str(SCREENS / "order-refund-dialog.png"))
                dialog.locator("button[type=submit]").click()
                page.wait_for_url("**#orders")
                for _ in range(60):  # the worker process carries it out; the card shows it when reloaded
                    if "Refunded 12.50 USD" in page.locator("#orders").inner_text():
                        break
                    page.wait_for_timeout(250)
                    page.reload()
                assert "Refunded 12.50 USD" in page.locator("#orders .order-history").inner_text()
                assert [r.path.rsplit("/", 1)[-1] for r in shop.writes()].count("refunds.json") == 1
                assert not [e for e in errors if "Content Security Policy" in e], errors
            finally:
                browser.close()
    finally:
        stop_live_server(live)
