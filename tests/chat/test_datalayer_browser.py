"""In Debian's Chromium, on a shop page of another origin: with the shop's `data_layer` setting on,
the widget hands helpdesk_chat_opened, _started and _rated to the page's window.dataLayer, in
order and without personal data; the pre-chat form's consent box records the shopper's yes.
With the setting off (the default) nothing reaches the dataLayer."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.actors import SYSTEM
from helpdesk.crm.models import Customer
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Inbox
from tests.chat.test_widget_browser import SHOP_HTML, browser, serve_shop  # noqa: F401
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

SCREENS = Path(os.environ["HELPDESK_SCREENSHOTS"]) if os.environ.get("HELPDESK_SCREENSHOTS") else None
EVENTS = "() => (window.dataLayer || []).filter(e => String(e.event || '').startsWith('helpdesk_'))"


def set_options(app: Flask, inbox: Inbox, **options: Any) -> None:
    with db_of(app).unit_of_work() as s:
        row = s.get(Inbox, inbox.id)
        row.settings = {**(row.settings or {}), **options}


def shop(live_server: LiveServer, inbox: Inbox) -> Any:
    # The shop's own tag manager snippet came first: our events join its dataLayer, not replace it.
    html = SHOP_HTML.format(helpdesk=live_server.url, site=inbox.site_key).replace(
        "<body>", "<body><script>window.dataLayer = [{'gtm.start': 1}];</script>")
    return serve_shop(html)


def test_chat_events_reach_the_shops_data_layer_in_order_only_when_turned_on(
        app: Flask, live_server: LiveServer, inbox: Inbox, browser: Any) -> None:  # noqa: F811
    set_options(app, inbox, prechat=True, consent=True, data_layer=True)
    server = shop(live_server, inbox)
    url = next(server)
    try:
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.goto(url)
        widget = page.frame_locator("iframe[data-helpdesk-widget]")
        widget.locator("#launcher").click()
        form = widget.locator("#prechat-form")
        expect(form).to_be_visible()
        box = form.locator("input[name=marketing_consent]")
        expect(box).not_to_be_checked()  # off until the shopper ticks it
        expect(form.locator("label.consent")).to_contain_text("Send me news and offers by email")
        form.locator("input[name=name]").fill("Ann Shopper")
        form.locator("input[name=email]").fill("ann.shopper@example.com")
        box.check()
        if SCREENS:
            SCREENS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENS / "prechat-consent.png"))
        form.locator("button[type=submit]").click()
        expect(form).to_be_hidden()
        widget.locator("#input").fill("Where is my parcel?")
        widget.locator("#input").press("Enter")
        expect(widget.locator(".msg.mine .tick.sent")).to_have_count(1)

        with db_of(app).unit_of_work() as s:
            customer = s.scalar(select(Customer).filter_by(email="ann.shopper@example.com"))
            assert (customer.marketing_consent, customer.marketing_consent_source) == (True, "widget")
            conversation = s.scalar(select(Conversation).filter_by(customer_id=customer.id))
            conversation_id = conversation.public_id
            tickets.set_status(s, SYSTEM, conversation, "resolved")
        # The worker of the live server sends the survey; the shopper rates in the widget.
        widget.locator("#csat [data-score='4']").click()
        expect(widget.locator("#csat")).to_contain_text("Thank")

        page.wait_for_function(f"() => ({EVENTS})().length >= 3")
        events = page.evaluate(EVENTS)
        assert events == [
            {"event": "helpdesk_chat_opened"},
            {"event": "helpdesk_chat_started", "conversation_id": conversation_id},
            {"event": "helpdesk_chat_rated", "conversation_id": conversation_id, "rating": 4},
        ]
        layer = json.dumps(page.evaluate("() => window.dataLayer"))
        assert layer.startswith('[{"gtm.start": 1}')
        for personal in ("ann.shopper", "Ann Shopper", "parcel"):
            assert personal not in layer
        # Closing and opening again is another "opened"; nothing else is repeated.
        widget.locator("#close").click()
        widget.locator("#launcher").click()
        page.wait_for_function(f"() => ({EVENTS})().length === 4")
        assert page.evaluate(EVENTS)[-1] == {"event": "helpdesk_chat_opened"}
        page.context.close()

        # Off: the same chat produces nothing in the page's dataLayer.
        set_options(app, inbox, prechat=False, data_layer=False)
        quiet = browser.new_context().new_page()
        quiet.goto(url)
        widget = quiet.frame_locator("iframe[data-helpdesk-widget]")
        widget.locator("#launcher").click()
        widget.locator("#input").fill("Hello again")
        widget.locator("#input").press("Enter")
        expect(widget.locator(".msg.mine .tick.sent")).to_have_count(1)
        # Messages from the frame arrive in order: once the loader has shrunk the frame on "closed",
        # anything posted before it has been handled too.
        widget.locator("#close").click()
        quiet.wait_for_function("() => document.querySelector('iframe[data-helpdesk-widget]').style.width === '88px'")
        assert quiet.evaluate(EVENTS) == []
        assert quiet.evaluate("() => window.dataLayer") == [{"gtm.start": 1}]
    finally:
        next(server, None)
