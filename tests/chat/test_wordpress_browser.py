"""The WordPress plugin's page output, served as a shop page to Debian's Chromium: the real loader
picks up its data-site and the queued identify, and the helpdesk verifies the customer."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.chat.models import ChatVisitor
from helpdesk.tickets.models import Inbox
from tests.chat.test_widget_browser import browser, serve_shop  # noqa: F401
from tests.conftest import LiveServer
from tests.integrations.test_wordpress_plugin import PHP, render
from tests.servers import wait_until

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(PHP is None, reason="php-cli is not installed (scripts/test installs it)")]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def test_a_logged_in_wordpress_customer_is_verified_by_the_helpdesk(
        app: Flask, live_server: LiveServer, inbox: Inbox, browser: Any) -> None:  # noqa: F811
    out = render({"url": live_server.url + "/", "site_key": inbox.site_key, "secret": inbox.secret},
                 {"ID": 3, "user_email": "wp.customer@example.com", "first_name": "Wanda", "last_name": "Press",
                  "display_name": "wanda"})
    server = serve_shop("<!doctype html><html><head><title>WP shop</title></head><body><h1>WooCommerce shop</h1>"
                        + out["page"] + "</body></html>")
    url = next(server)
    try:
        page = browser.new_context().new_page()
        page.goto(url)
        widget = page.frame_locator("iframe[data-helpdesk-widget]")
        widget.locator("#launcher").click()
        expect(widget.locator("#status-text")).not_to_have_text("Connecting…")

        def verified() -> bool:
            with db_of(app).sessions() as s:
                visitor = s.scalar(select(ChatVisitor).where(ChatVisitor.verified.is_(True)))
                return visitor is not None and visitor.customer.email == "wp.customer@example.com" \
                    and visitor.customer.name == "Wanda Press"

        wait_until(verified, timeout=10, message="the WordPress customer to be verified")
    finally:
        next(server, None)
