"""Images and links in both directions, in Debian's Chromium: a shopper's photo is a thumbnail in
the console, an agent's picked file reaches the widget as a thumbnail that opens full size, and
URLs in either side's text are links with rel="noopener noreferrer nofollow" and a new tab, while
`javascript:` stays text. Screenshots go to $HELPDESK_SCREENSHOTS (default: the tmp folder)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.chat.test_widget_browser import agent_page, browser, shop_url  # noqa: F401  (fixtures)
from tests.conftest import LiveServer
from tests.email.test_email_ux_browser import png
from tests.servers import wait_until

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
REL = "noopener noreferrer nofollow"


def drawn(locator: Any) -> int:
    return locator.evaluate("i => i.complete ? i.naturalWidth : 0")


def test_photos_preview_and_links_are_safe_in_the_widget_and_the_console(
        app: Flask, agent: Any, live_server: LiveServer, shop_url: str, browser: Any,  # noqa: F811
        tmp_path: Path) -> None:
    shots = Path(os.environ.get("HELPDESK_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    shop = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
    shop.goto(shop_url)
    widget = shop.frame_locator("iframe[data-helpdesk-widget]")
    widget.locator("#launcher").click()
    widget.locator("#input").fill("See https://shop.example/p/1 — not javascript:alert(1)")
    widget.locator("#input").press("Enter")
    expect(widget.locator(".msg.mine .tick.sent")).to_have_count(1)
    widget.locator("#file").set_input_files(
        files=[{"name": "parcel.png", "mimeType": "image/png", "buffer": png(300, 180, (60, 160, 90))}])
    expect(widget.locator(".msg.mine .atts img")).to_have_count(1)
    mine = widget.locator(".msg.mine .bubble a")
    expect(mine).to_have_count(1)
    assert mine.get_attribute("href") == "https://shop.example/p/1" and mine.get_attribute("rel") == REL
    assert mine.get_attribute("target") == "_blank"

    console = agent_page(browser, live_server, agent.email)
    console.goto(f"{live_server.url}/console?view=all&status=open")
    console.locator("#rows .row a.row-title").first.click()
    thumb = console.locator("#thread .msg-customer img.att-thumb")
    expect(thumb).to_have_count(1)
    wait_until(lambda: drawn(thumb) == 300, timeout=10, message="the shopper's photo in the console")
    link = console.locator("#thread .msg-customer a[href='https://shop.example/p/1']")
    assert link.get_attribute("rel") == REL and link.get_attribute("target") == "_blank"
    assert console.locator("#thread a[href^='javascript']").count() == 0

    # The agent answers with a file picked by the button and a link.
    console.set_input_files("#attach-input", files=[
        {"name": "label.png", "mimeType": "image/png", "buffer": png(240, 160, (200, 60, 60))}])
    expect(console.locator("#attach-list li img")).to_have_count(1)
    console.fill("#reply", "Here is your return label; steps at https://help.example/returns.")
    console.click("#composer button[type=submit]")
    expect(console.locator("#thread .msg-agent img.att-thumb")).to_have_count(1)

    theirs = widget.locator(".msg.agent .atts img")
    expect(theirs).to_have_count(1)
    wait_until(lambda: drawn(theirs) == 240, timeout=10, message="the agent's image in the widget")
    opens = widget.locator(".msg.agent .atts a")
    assert opens.get_attribute("target") == "_blank"
    answer = widget.locator(".msg.agent .bubble a")
    expect(answer).to_have_count(1)
    assert answer.get_attribute("href") == "https://help.example/returns" and answer.get_attribute("rel") == REL
    assert widget.locator("a[href^='javascript']").count() == 0
    shop.screenshot(path=str(shots / "widget-previews-links.png"))
