"""End to end in Debian's Chromium: a shop page of another origin embeds the widget; an agent answers
from the console in another browser context; nothing is lost or shown twice across a network drop."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask

from tests.conftest import PASSWORD, LiveServer
from tests.factories import make_conversation
from tests.servers import free_port

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

# A 1x1 transparent PNG: a real image, so the frame's preview has something to draw.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000105e0a5c70000000049454e44ae426082"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOP_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<style>button{{all:unset}} iframe{{opacity:.2}} body{{font:18px Georgia,serif}}</style></head>
<body><h1>Test shop on another origin</h1>
<script src="{helpdesk}/widget.js" data-site="{site}" async></script>
<script>window.helpdesk = window.helpdesk
  || function(){{(helpdesk.q = helpdesk.q || []).push(arguments)}};</script>
</body></html>"""


@pytest.fixture
def shop_url(live_server: LiveServer, inbox: Any) -> Iterator[str]:
    """The shop: a separate tiny HTTP server, so the widget runs on a page of another origin."""
    yield from serve_shop(SHOP_HTML.format(helpdesk=live_server.url, site=inbox.site_key))


def serve_shop(page: str) -> Iterator[str]:
    html = page.encode()

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def agent_page(browser: Any, server: LiveServer, email: str) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{server.url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console**")
    return page


def agent_bubbles(frame: Any) -> list[str]:
    return frame.locator(".msg.agent .bubble").all_inner_texts()


def test_shopper_and_agent_chat_live_and_nothing_is_lost_or_doubled_offline(
    app: Flask, agent: Any, live_server: LiveServer, shop_url: str, browser: Any
) -> None:
    console = agent_page(browser, live_server, agent.email)
    console.goto(f"{live_server.url}/console?view=all&status=open")
    expect(console.locator(".presence-toggle[data-status=online]")).to_be_visible()

    shopper_context = browser.new_context(viewport={"width": 1280, "height": 800})
    shop = shopper_context.new_page()
    shop.goto(shop_url)
    widget = shop.frame_locator("iframe[data-helpdesk-widget]")
    widget.locator("#launcher").click()
    expect(widget.locator("#status-text")).to_have_text("We're online")
    widget.locator("#input").fill("Hello from the shop <b>bold?</b>")
    widget.locator("#input").press("Enter")
    expect(widget.locator(".msg.mine .tick.sent")).to_have_count(1)

    # The agent's queue shows it without a reload, as text.
    row = console.locator("#rows .row", has_text="Hello from the shop <b>bold?</b>")
    expect(row).to_be_visible()
    row.locator("a.row-title").click()
    expect(console.locator("#thread .msg-customer .msg-body")).to_have_text(
        ["Hello from the shop <b>bold?</b>"]
    )
    console.fill("#reply", "Hi! How can I help?")
    console.click("#composer button[type=submit]")
    expect(console.locator("#thread .msg-agent")).to_have_count(1)

    expect(widget.locator(".msg.agent .bubble")).to_have_text(["Hi! How can I help?"])
    expect(widget.locator(".msg.agent .who")).to_have_text(["Alice Agent"])

    # A reload keeps the history (the token lives in the frame's storage).
    shop.reload()
    widget = shop.frame_locator("iframe[data-helpdesk-widget]")
    widget.locator("#launcher").click()
    expect(widget.locator(".msg .bubble")).to_have_text(
        ["Hello from the shop <b>bold?</b>", "Hi! How can I help?"]
    )

    # The network drops: the agent sends three, the shopper types one into the outbox.
    shopper_context.set_offline(True)
    expect(widget.locator("#status-text")).to_have_text("Connecting…")
    widget.locator("#input").fill("typed while offline")
    widget.locator("#input").press("Enter")
    expect(widget.locator(".msg.pending .bubble")).to_have_text(["typed while offline"])
    for text in ("one", "two", "three"):
        console.fill("#reply", text)
        console.click("#composer button[type=submit]")
        expect(console.locator("#thread .msg-agent .msg-body").last).to_have_text(text)
        expect(console.locator("#reply")).to_have_value("")
    assert agent_bubbles(widget) == ["Hi! How can I help?"]  # truly cut off, not quietly connected

    shopper_context.set_offline(False)
    expect(widget.locator(".msg.agent .bubble")).to_have_text(["Hi! How can I help?", "one", "two", "three"])
    expect(widget.locator(".msg.pending")).to_have_count(0)
    expect(console.locator("#thread .msg-customer .msg-body")).to_have_text(
        ["Hello from the shop <b>bold?</b>", "typed while offline"]
    )
    seqs = [
        int(s) for s in widget.locator(".msg[data-seq]").evaluate_all("els => els.map(e => e.dataset.seq)")
    ]
    assert seqs == sorted(set(seqs)) and len(seqs) == 6
    expect(widget.locator("#input")).to_be_editable()

    # Resolved in the console: the shopper is told; their next message continues the same
    # conversation (issue 15: the old thread vanished), which reopens, and the notice goes.
    console.locator("[data-shortcut=e]").click()
    expect(widget.locator(".msg.system .bubble")).to_have_text(
        ["This conversation is closed. Write again any time and we will pick it up here."]
    )
    widget.locator("#input").fill("One more question")
    widget.locator("#input").press("Enter")
    expect(widget.locator(".msg.mine .bubble").last).to_have_text("One more question")
    expect(widget.locator(".msg.agent .bubble")).to_have_text(["Hi! How can I help?", "one", "two", "three"])
    expect(widget.locator(".msg.system")).to_have_count(0)
    expect(console.locator("#thread .msg-customer .msg-body").last).to_have_text("One more question")
    expect(console.locator(".conv-actions .pill.st-open")).to_be_visible()


def test_german_widget_offers_email_when_away_sends_an_image_and_counts_unread(
    app: Flask, agent: Any, live_server: LiveServer, shop_url: str, browser: Any
) -> None:
    shop = browser.new_context(locale="de-DE").new_page()
    shop.goto(shop_url)
    widget = shop.frame_locator("iframe[data-helpdesk-widget]")
    widget.locator("#launcher").click()
    expect(widget.locator("#input")).to_have_attribute("placeholder", "Nachricht schreiben…")
    # Nobody online: the widget says so and asks for an email so the answer can follow.
    expect(widget.locator("#status-text")).to_have_text("Wir sind nicht da — wir antworten per E-Mail")
    widget.locator("#input").fill("Hallo")
    widget.locator("#input").press("Enter")
    expect(widget.locator(".msg.mine .tick.sent")).to_have_count(1)
    widget.locator("#away-form input[name=email]").fill("kunde@example.de")
    widget.locator("#away-form button").click()
    expect(widget.locator("#away-form")).to_be_hidden()
    widget.locator("#file").set_input_files(
        files=[{"name": "foto.png", "mimeType": "image/png", "buffer": PNG}]
    )
    expect(widget.locator(".msg.mine .atts img")).to_have_count(1)
    widget.locator("#close").click()

    console = agent_page(browser, live_server, agent.email)
    console.goto(f"{live_server.url}/console?view=all&status=open")
    console.locator("#rows .row a.row-title").first.click()
    for text in ("Guten Tag!", "Wie kann ich helfen?"):
        console.fill("#reply", text)
        console.click("#composer button[type=submit]")
        expect(console.locator("#thread .msg-agent .msg-body").last).to_have_text(text)
    expect(console.locator("#thread .atts a")).to_have_text(["foto.png"])
    expect(widget.locator("#badge")).to_have_text("2")
    widget.locator("#launcher").click()
    expect(widget.locator("#badge")).to_be_hidden()


def test_identified_shopper_sees_their_earlier_conversation_and_a_forged_one_does_not(
    app: Flask, live_server: LiveServer, inbox: Any, browser: Any
) -> None:
    make_conversation(app, inbox, email="ann@example.com", body="Is my order on its way?")
    good = hmac.new(inbox.secret.encode(), b"ann@example.com", hashlib.sha256).hexdigest()
    for signature, expected in ((good, ["Is my order on its way?"]), ("0" * 64, [])):
        identify = (
            f"<script>helpdesk('identify', {{email: 'ann@example.com', name: 'Ann', hmac: '{signature}'}});"
            "helpdesk('open');</script></body>"
        )
        page_html = SHOP_HTML.format(helpdesk=live_server.url, site=inbox.site_key).replace(
            "</body>", identify
        )
        shop_server = serve_shop(page_html)
        url = next(shop_server)
        try:
            shop = browser.new_context().new_page()
            shop.goto(url)
            widget = shop.frame_locator("iframe[data-helpdesk-widget]")
            expect(widget.locator("#panel")).to_be_visible()  # helpdesk('open') from the page
            expect(widget.locator("#status-text")).not_to_have_text("Connecting…")
            expect(widget.locator(".msg .bubble")).to_have_text(expected)
            shop.context.close()
        finally:
            next(shop_server, None)
