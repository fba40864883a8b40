"""A return from start to end in Debian's Chromium against `helpdesk run` (web and worker) and a
fake Shopify: the shopper picks items and a reason in the widget on a shop page of another origin,
the agent sees the request as a card, one click fills the order card's refund dialog, and the
shopper reads the outcome live in the widget."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.orders.shopify import ShopifyConnector
from helpdesk.tickets.models import Conversation
from tests.chat.test_widget_browser import SHOP_HTML, agent_page, browser, serve_shop  # noqa: F401
from tests.conftest import start_live_server, stop_live_server
from tests.factories import make_inbox
from tests.orders.actions_helpers import store
from tests.orders.conftest import SHOP
from tests.orders.fakes import FakeShopify, serving
from tests.orders.test_actions_shopify import TOKEN
from tests.orders.test_sidebar_browser import SCREENS
from tests.selfservice.test_agent_card import shipped

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def shot(page: Any, name: str, **kwargs: Any) -> None:
    if SCREENS:
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / name), animations="disabled", **kwargs)


@pytest.fixture
def shop() -> Iterator[FakeShopify]:
    fake = FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=[shipped()])
    with serving(fake):
        yield fake


def test_a_return_from_the_widget_is_refunded_by_the_agent_in_one_click(
        app: Flask, agent: Any, shop: FakeShopify, database_url: str, tmp_path: Path,
        browser: Any) -> None:  # noqa: F811
    store(app, ShopifyConnector(SHOP, ""), shop.orders[0])
    inbox, site = make_inbox(app, "Shop chat", "chat")
    live = start_live_server(tmp_path, database_url, env={
        "HELPDESK_SHOPIFY_SHOP": SHOP, "HELPDESK_SHOPIFY_ACCESS_TOKEN": TOKEN,
        "HELPDESK_SHOPIFY_API_URL": f"{shop.url}/admin/api/2025-01"})
    signature = hmac.new(inbox.secret.encode(), b"ann@example.com", hashlib.sha256).hexdigest()
    identify = f"helpdesk('identify', {{email: 'ann@example.com', name: 'Ann Lee', hmac: '{signature}'}});"
    html = SHOP_HTML.format(helpdesk=live.url, site=site).replace(
        "</body>", f"<script>{identify}helpdesk('open');</script></body>")
    shop_server = serve_shop(html)
    url = next(shop_server)
    try:
        shopper = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
        errors: list[str] = []
        shopper.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        shopper.goto(url)
        widget = shopper.frame_locator("iframe[data-helpdesk-widget]")
        expect(widget.locator("#status-text")).not_to_have_text("Connecting…")
        widget.locator("#input").fill("Hi, one of my mugs arrived broken")
        widget.locator("#input").press("Enter")
        expect(widget.locator(".msg.mine .tick.sent")).to_have_count(1)
        # The agent reads the conversation while the shopper starts the return: the card comes live.
        with db_of(app).sessions() as s:
            conversation = s.scalar(select(Conversation.public_id))
        console = agent_page(browser, live, agent.email)
        console.set_viewport_size({"width": 1400, "height": 1000})
        console.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        console.goto(f"{live.url}/console/c/{conversation}")
        expect(console.locator("#thread .msg")).to_have_count(1)

        widget.locator("#orders-toggle").click()
        widget.locator("#orders .o-row", has_text="#1100").click()
        card = widget.locator("#orders .o-summary")
        expect(card.locator(".ss-action")).to_have_text(["Track shipment", "Return items"])  # shipped: no cancel
        shot(shopper, "selfservice-order-card.png")
        card.locator(".ss-action", has_text="Track shipment").click()
        expect(widget.locator("#orders .ss-parcel")).to_contain_text("JD0140")
        shot(shopper, "selfservice-tracking.png")
        widget.locator("#orders .ss-back").click()

        widget.locator("#orders .ss-action", has_text="Return items").click()
        form = widget.locator("#orders form.ss-form")
        mug = form.locator(".ss-line", has_text="Mug")
        expect(mug).to_contain_text("2 bought")
        mug.locator("input.ss-qty").fill("2")
        expect(mug.locator("input[type=checkbox]")).to_be_checked()
        form.locator("button[type=submit]").click()
        expect(form.locator(".error")).to_have_text("Choose a reason for the return.")  # refused before sending
        form.locator("select[name=reason]").select_option("damaged")
        form.locator("textarea[name=note]").fill("Both handles broke in the box")
        shot(shopper, "selfservice-return-form.png")
        form.locator("button[type=submit]").click()
        expect(widget.locator("#orders .ss-done")).to_contain_text("Request sent")
        shot(shopper, "selfservice-return-sent.png")
        widget.locator("#orders .ss-done button").click()
        expect(widget.locator("#orders")).to_be_hidden()
        expect(widget.locator(".msg.mine .bubble")).to_contain_text(
            ["Hi, one of my mugs", "I would like to return 2 \u00d7 Mug from order #1100. Reason: Arrived damaged."])

        ss = console.locator(".ss-card")  # drawn live, without a reload; the order card refreshed too
        expect(console.locator("#orders article.order")).to_have_count(1)
        expect(ss).to_contain_text("Return request")
        expect(ss).to_contain_text("Arrived damaged")
        ss.scroll_into_view_if_needed()
        shot(console, "selfservice-agent-card.png")
        ss.locator("button", has_text="Refund 2 items & restock").click()
        dialog = console.locator("dialog[open]")
        expect(dialog).to_be_visible()
        expect(dialog.locator("input[name=line_1001]")).to_be_checked()
        expect(dialog.locator("input[name=line_1002]")).not_to_be_checked()
        expect(dialog.locator("input[name=qty_1001]")).to_have_value("2")
        expect(dialog.locator("input[name=restock]")).to_be_checked()
        expect(dialog.locator("[data-summary]")).to_have_text("Refund $70.00 to the customer.")
        expect(dialog.locator("[data-quote]")).to_have_text("The shop calculates $70.00.", timeout=15000)
        shot(console, "selfservice-agent-dialog.png")
        dialog.locator("button[type=submit]").click()
        # The worker process refunds it; the shopper reads the outcome live, without a reload.
        expect(widget.locator(".msg.system, .msg.agent").last).to_contain_text(
            "Your return of 2 \u00d7 Mug from order #1100 is accepted: we have refunded 70.00 USD", timeout=20000)
        shot(shopper, "selfservice-outcome-widget.png")
        expect(console.locator(".ss-card .ss-status")).to_have_text("Done")  # live as well
        expect(console.locator(".ss-card")).to_contain_text("the customer was told")
        assert [r.path.rsplit("/", 1)[-1] for r in shop.writes()].count("refunds.json") == 1
        assert not errors, errors
    finally:
        next(shop_server, None)
        stop_live_server(live)
