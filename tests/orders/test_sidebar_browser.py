"""The conversation sidebar in a real browser: the linked order, and a tracking link that works."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.actors import agent_actor
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation
from tests.conftest import PASSWORD, LiveServer, start_live_server, stop_live_server
from tests.factories import make_conversation, make_inbox
from tests.orders.conftest import make_order
from tests.orders.fakes import shopify_sample

pytestmark = pytest.mark.browser
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENS = Path(os.environ.get("HELPDESK_SCREENSHOTS", "")) if os.environ.get("HELPDESK_SCREENSHOTS") else None


@pytest.fixture
def carrier() -> Iterator[str]:
    """A stand-in for the carrier's tracking page, on 127.0.0.1."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            number = parse_qs(urlsplit(self.path).query).get("tracknum", ["?"])[0]
            body = f"<html><title>UPS tracking</title><h1>Parcel {number}: in transit</h1></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def server(app: Flask, database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path, database_url)
    yield live
    stop_live_server(live)


def test_sidebar_shows_the_linked_order_and_its_tracking_link_opens_the_carrier_page(
        app: Flask, agent: Any, carrier: str, server: LiveServer, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    inbox, _ = make_inbox(app)
    refund = shopify_sample("refund.json")["refund"]
    refund["transactions"][0]["amount"] = "199.00"
    make_order(app, 1001, "bob.norman@hostmail.com", financial_status="partially_refunded", gateway="stripe",
               created_at="2026-11-20T14:02:00Z", refunds=[refund], fulfillment_status="fulfilled",
               fulfillments=[{"id": 255858046, "status": "success", "tracking_company": "UPS",
                              "tracking_number": "1Z2345E20312345678",
                              "tracking_url": f"{carrier}/track?tracknum=1Z2345E20312345678",
                              "created_at": "2026-11-21T09:00:00Z"}])
    make_order(app, 1009, "bob.norman@hostmail.com", created_at="2026-10-02T10:00:00Z", total_price="58.00",
               financial_status="paid", fulfillments=[], fulfillment_status=None)
    conv = make_conversation(app, inbox, email="bob.norman@hostmail.com", name="Bob Norman",
                             subject="Where is my iPod order?",
                             body="Hi! I ordered three iPods last week, order #1001. One arrived broken and "
                                  "the others have not arrived yet. Can you check?")
    with db_of(app).unit_of_work() as s:
        tickets.post_message(s, agent_actor(s.get(Agent, agent.id)), s.get(Conversation, conv.id),
                             body="Thanks Bob, I'm checking order 1001 now.")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{server.url}/login")
            page.fill("input[name=email]", agent.email)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/console**")
            page.goto(f"{server.url}/console/c/{conv.public_id}")
            card = page.locator("#orders")
            card.wait_for()
            assert "#1001" in card.inner_text() and "IPod Nano - 8gb" in card.inner_text()
            shots = [tmp_path / "sidebar.png"] + ([SCREENS / "conversation-sidebar-order.png"] if SCREENS else [])
            for shot in shots:
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=True)
            if SCREENS:
                card.screenshot(path=str(SCREENS / "orders-card.png"))
            link = card.locator("a.track")
            assert link.inner_text().startswith("1Z2345E20312345678")
            with page.expect_popup() as popup_info:
                link.click()
            popup = popup_info.value
            popup.wait_for_load_state()
            assert "Parcel 1Z2345E20312345678: in transit" in popup.inner_text("h1")
        finally:
            browser.close()


def test_admin_shops_page_renders(app: Flask, admin: Any, database_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    live = start_live_server(tmp_path, database_url, env={
        "HELPDESK_SHOPIFY_SHOP": "shop-example.myshopify.com", "HELPDESK_SHOPIFY_ACCESS_TOKEN": "shpat_secret",
        "HELPDESK_SHOPIFY_WEBHOOK_SECRET": "whsec", "HELPDESK_WOOCOMMERCE_URL": "https://woo.example"})
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1300, "height": 900})
                page.goto(f"{live.url}/login")
                page.fill("input[name=email]", admin.email)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url("**/console**")
                page.goto(f"{live.url}/admin/orders")
                assert "connected" in page.inner_text(".shops").lower()
                assert "shpat_secret" not in page.content()
                if SCREENS:
                    page.screenshot(path=str(SCREENS / "admin-shops.png"), full_page=True)
            finally:
                browser.close()
    finally:
        stop_live_server(live)
