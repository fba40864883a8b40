"""The widget's order picker and lookup in Debian's Chromium, on a shop page of another origin."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.crm.models import Customer
from helpdesk.tickets.models import Conversation
from tests.chat.test_widget_browser import SHOP_HTML, agent_page, browser, serve_shop  # noqa: F401
from tests.conftest import LiveServer
from tests.orders.conftest import make_order

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
SCREENS = Path(os.environ["HELPDESK_SCREENSHOTS"]) if os.environ.get("HELPDESK_SCREENSHOTS") else None
PHONE = {"viewport": {"width": 390, "height": 760}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}


def shot(page: Any, name: str) -> None:
    if SCREENS:
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / name), animations="disabled")


def shop_page(live_server: LiveServer, inbox: Any, extra: str = "") -> Any:
    html = SHOP_HTML.format(helpdesk=live_server.url, site=inbox.site_key).replace(
        "<head>", '<head><meta name="viewport" content="width=device-width, initial-scale=1">')
    return serve_shop(html.replace("</body>", f"<script>{extra}helpdesk('open');</script></body>"))


def test_verified_shopper_picks_an_order_and_the_agent_sees_it_linked(
        app: Flask, agent: Any, live_server: LiveServer, inbox: Any, browser: Any) -> None:  # noqa: F811
    make_order(app, 1001, "ann@example.com", created_at="2026-11-20T14:02:00Z")
    make_order(app, 1002, "ann@example.com", created_at="2026-11-24T09:30:00Z", fulfillment_status="fulfilled")
    make_order(app, 1003, "bob@example.com")
    signature = hmac.new(inbox.secret.encode(), b"ann@example.com", hashlib.sha256).hexdigest()
    shop_server = shop_page(live_server, inbox,
                            f"helpdesk('identify', {{email: 'ann@example.com', name: 'Ann', hmac: '{signature}'}});")
    url = next(shop_server)
    try:
        shop = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        shop.goto(url)
        widget = shop.frame_locator("iframe[data-helpdesk-widget]")
        expect(widget.locator("#status-text")).not_to_have_text("Connecting…")
        widget.locator("#orders-toggle").click()
        rows = widget.locator("#orders .o-row")
        expect(rows).to_have_count(2)  # Ann's two orders, not Bob's
        expect(rows.first).to_contain_text("#1002")
        shot(shop, "picker-desktop.png")
        rows.filter(has_text="#1001").click()  # the order's card, with self-service and "ask"
        widget.locator("#orders .o-summary button", has_text="Ask about this order").click()
        expect(widget.locator("#orders")).to_be_hidden()
        expect(widget.locator(".msg.mine .bubble")).to_have_text(["Question about order #1001"])
        expect(widget.locator(".msg.mine .tick.sent")).to_have_count(1)
        shot(shop, "picked-desktop.png")

        with db_of(app).sessions() as s:
            conversation_id = s.scalar(select(Conversation.public_id).join(Customer)
                                       .where(Customer.email == "ann@example.com"))
        console = agent_page(browser, live_server, agent.email)
        console.goto(f"{live_server.url}/console/c/{conversation_id}")
        card = console.locator("#orders")
        expect(card).to_contain_text("#1001")
        expect(card).not_to_contain_text("#1003")
        expect(console.locator("#orders article.order")).to_have_count(1)
        # A second pick while the agent watches: the orders card refreshes without a reload.
        widget.locator("#orders-toggle").click()
        widget.locator("#orders .o-row").filter(has_text="#1002").click()
        widget.locator("#orders .o-summary button", has_text="Ask about this order").click()
        expect(console.locator("#orders article.order")).to_have_count(2)
    finally:
        next(shop_server, None)


def test_unverified_shopper_on_a_phone_finds_an_order_only_with_the_right_pair(
        app: Flask, live_server: LiveServer, inbox: Any, browser: Any) -> None:  # noqa: F811
    make_order(app, 1001, "ann@example.com", fulfillment_status="fulfilled",
               fulfillments=[{"id": 1, "status": "success", "tracking_company": "UPS",
                              "tracking_number": "1Z2345E20312345678",
                              "tracking_url": "https://www.ups.com/track?tracknum=1Z2345E20312345678",
                              "created_at": "2026-11-21T09:00:00Z"}])
    shop_server = shop_page(live_server, inbox)
    url = next(shop_server)
    try:
        shop = browser.new_context(**PHONE).new_page()
        shop.goto(url)
        widget = shop.frame_locator("iframe[data-helpdesk-widget]")
        expect(widget.locator("#status-text")).not_to_have_text("Connecting…")
        widget.locator("#orders-toggle").click()
        form = widget.locator("#orders form")
        form.locator("input[name=number]").fill("1001")
        form.locator("input[name=email]").fill("bob@example.com")
        form.locator("button[type=submit]").click()
        expect(form.locator(".error")).to_have_text(
            "No order matches that number and email. Check both and try again.")
        expect(widget.locator("#orders .o-summary")).to_have_count(0)
        shot(shop, "lookup-not-found-phone.png")

        form.locator("input[name=email]").fill("ann@example.com")
        form.locator("button[type=submit]").click()
        summary = widget.locator("#orders .o-summary")
        expect(summary).to_contain_text("#1001")
        expect(summary).to_contain_text("Shipped")
        expect(summary.locator("a")).to_have_attribute("href", "https://www.ups.com/track?tracknum=1Z2345E20312345678")
        expect(form.locator(".error")).to_be_hidden()
        shot(shop, "lookup-found-phone.png")

        for guess in range(2000, 2012):  # the live server's limit: 10 a minute per address
            form.locator("input[name=number]").fill(str(guess))
            form.locator("button[type=submit]").click()
            expect(form.locator("button[type=submit]")).to_be_enabled()
        expect(form.locator(".error")).to_have_text("Too many tries. Please wait a minute and try again.")
        shot(shop, "lookup-rate-limited-phone.png")

        desktop = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        desktop.goto(url)
        frame = desktop.frame_locator("iframe[data-helpdesk-widget]")
        frame.locator("#orders-toggle").click()
        expect(frame.locator("#orders input[name=number]")).to_be_visible()
        shot(desktop, "lookup-desktop.png")
    finally:
        next(shop_server, None)
