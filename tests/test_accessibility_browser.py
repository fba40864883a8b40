"""Issue 15, rough edges a browser sees: axe-core (vendored, tests/data/axe) finds no serious or
critical violation on the queue, conversation, reports and widget pages; the skip link, the help
dialog's focus, the widget's keyboard-reachable attach button and its required pre-chat form; the
conversation page and the demo shop at 390 px. One page load per page, many asserts: CI time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from helpdesk import db_of
from helpdesk.actors import SYSTEM
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Inbox
from tests.conftest import PASSWORD, LiveServer, start_live_server, stop_live_server
from tests.factories import make_conversation, make_inbox

pytestmark = pytest.mark.browser
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = (Path(__file__).parent / "data" / "axe" / "axe.min.js").read_text()
# Screenshots for a person to look at: HELPDESK_SCREENSHOTS=/some/dir
SHOTS = os.environ.get("HELPDESK_SCREENSHOTS")


@pytest.fixture
def server(app: Flask, database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path, database_url, env={"HELPDESK_DEMO": "1"})
    yield live
    stop_live_server(live)


def serious(page: Any) -> list[str]:
    """axe-core's serious and critical violations of the page, as readable lines."""
    # A panel still fading in has its text at part opacity: axe would measure a contrast nobody sees.
    page.evaluate("""() => Promise.all(document.getAnimations()
        .filter(a => a.effect && a.effect.getComputedTiming().endTime !== Infinity).map(a => a.finished))""")
    page.add_script_tag(content=AXE)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
          .map(v => v.id + ': ' + v.help + ' — ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
    }""")
    return list(result)


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_console_and_widget_pass_axe_and_work_by_keyboard_and_on_a_phone(
        app: Flask, manager: Any, server: LiveServer) -> None:
    from playwright.sync_api import sync_playwright

    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox, email="ann@example.com",
                             subject="My parcel from last Tuesday has still not arrived at the depot",
                             body="Hello, where is my order #1001?")
    make_conversation(app, inbox, email="bob@example.com", subject="Invoice please")
    with db_of(app).unit_of_work() as s:
        tickets.set_priority(s, SYSTEM, s.get(Conversation, conv.id), "high")
        chat = s.get(Inbox, inbox.id)  # (after make_conversation, whose merge writes the old row back)
        chat.site_key = "demo"  # the demo shop page's site key
        chat.settings = {**(chat.settings or {}), "prechat": True}

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            # axe is injected as a script tag: the pages' Content-Security-Policy would refuse it.
            context = browser.new_context(bypass_csp=True, viewport={"width": 1300, "height": 900})
            page = context.new_page()
            page.goto(f"{server.url}/login")
            page.fill("input[name=email]", manager.email)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/console**")

            # -- the queue: axe, the skip link, the help dialog's focus
            page.goto(f"{server.url}/console?view=all")
            page.wait_for_selector("#rows .row")
            assert serious(page) == []
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip-link"
            page.keyboard.press("Enter")
            assert page.evaluate("document.activeElement.id") == "queue"
            page.keyboard.press("Tab")
            assert page.evaluate("!!document.activeElement.closest('#queue')")  # one stop before the queue
            page.locator("#rows .row-title").first.focus()
            page.keyboard.press("Shift+Slash")  # "?": the help takes focus ...
            assert page.locator("#help").is_visible()
            assert page.evaluate("!!document.activeElement.closest('#help')")
            page.keyboard.press("Tab")
            assert page.evaluate("!!document.activeElement.closest('#help')")  # ... and keeps it
            page.keyboard.press("Escape")
            # ... and gives it back where it was
            assert page.evaluate("document.activeElement.classList.contains('row-title')")
            assert page.locator("#help").is_hidden()
            assert "preview" in (page.locator("[data-preview]").first.get_attribute("class") or "")
            shot(page, "queue")

            # -- the conversation: axe, then 390 px
            page.goto(f"{server.url}/console/c/{conv.public_id}")
            page.wait_for_selector("#thread .msg")
            assert serious(page) == []
            assert page.locator(".composer-tabs[role=radiogroup] input[type=radio]").count() == 2
            shot(page, "conversation")
            page.set_viewport_size({"width": 390, "height": 844})
            title = page.locator(".conv-title h1").bounding_box()
            assert title and title["width"] > 250, title  # not one letter wide
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            shot(page, "conversation-390")
            page.set_viewport_size({"width": 1300, "height": 900})

            # -- the reports
            page.goto(f"{server.url}/reports")
            page.wait_for_selector("#trend-chart")
            assert serious(page) == []
            shot(page, "reports")

            # -- the widget frame: axe, the pre-chat form locks the box, attach by keyboard
            widget = context.new_page()
            widget.set_viewport_size({"width": 420, "height": 760})
            widget.goto(f"{server.url}/widget/frame?site=demo")
            widget.click("#launcher")
            widget.wait_for_selector("#prechat-form:not([hidden])")
            assert widget.locator("#input").is_disabled()
            assert serious(widget) == []
            widget.fill("#prechat-form input[name=name]", "Ann")
            widget.fill("#prechat-form input[name=email]", "ann@example.com")
            widget.click("#prechat-form button[type=submit]")
            widget.wait_for_selector("#prechat-form[hidden]", state="attached")
            assert widget.locator("#input").is_enabled()
            widget.locator("#input").focus()
            widget.keyboard.press("Shift+Tab")
            assert widget.evaluate("document.activeElement.id") == "attach"
            widget.close()

            # -- the demo shop on a phone: no sideways scroll; the open chat fills the screen
            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            phone.goto(f"{server.url}/demo/shop")
            frame_el = phone.wait_for_selector("iframe[data-helpdesk-widget]")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            frame = frame_el.content_frame()
            assert frame is not None
            frame.click("#launcher")
            phone.wait_for_function("() => document.querySelector('iframe[data-helpdesk-widget]')"
                                    ".getBoundingClientRect().width >= 389")
            box = frame_el.bounding_box()
            assert box and abs(box["x"]) < 1 and box["width"] <= 391
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            shot(phone, "demo-shop-390")
            phone.close()
        finally:
            browser.close()
