"""Held item of issue 12: every field a shopper or an email sender controls reaches the agent's
pages as text, in Debian's Chromium: names, emails, subjects, message bodies (live over the
socket and server-rendered), typing notices, HTML mail, attachment names, order addresses and
item titles, CSAT comments. A payload that runs logs a marker to the console; none may."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.actors import SYSTEM, customer_actor
from helpdesk.orders import services as orders
from helpdesk.orders.connector import LineItemData, OrderData
from helpdesk.tickets import csat
from helpdesk.tickets.models import Conversation, Status
from tests.chat.test_live_sockets import Recorder
from tests.chat.test_widget_browser import agent_page, browser  # noqa: F401  (the fixture)
from tests.conftest import LiveServer, make_agent
from tests.factories import make_inbox
from tests.servers import wait_until

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

MARK = "XSS-FIRED"
PAYLOADS = [
    f"<img src=x onerror=console.log('{MARK}')>",
    f"\"><svg onload=console.log('{MARK}')>",
    f"</script><script>console.log('{MARK}')</script>",
    f"javascript:console.log('{MARK}')",
    f"{{{{7*7}}}}<iframe srcdoc=\"<script>parent.console.log('{MARK}')</script>\">",
]
P = " ".join(PAYLOADS)


def html_mail(to: str) -> bytes:
    attachment = base64.b64encode(b"hello").decode()
    return (
        f"From: =?utf-8?B?{base64.b64encode(PAYLOADS[0].encode()).decode()}?= <mallory@evil.example>\r\n"
        f"To: {to}\r\nSubject: {PAYLOADS[1]} {PAYLOADS[0]}\r\nMessage-ID: <xss-1@evil.example>\r\n"
        "Date: Sat, 28 Nov 2026 06:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        '--b1\r\nContent-Type: multipart/alternative; boundary="b2"\r\n\r\n'
        f"--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{P}\r\n"
        "--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"<p>Hi</p><script>console.log('{MARK}')</script><img src=x onerror=\"console.log('{MARK}')\">"
        f"<a href=\"javascript:console.log('{MARK}')\">x</a><form action=javascript:alert(1)><button>go</button></form>"
        f"<svg><animate onbegin=\"console.log('{MARK}')\" attributeName=x dur=1s></svg>\r\n"
        "--b2--\r\n"
        '--b1\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; '
        f'filename="{PAYLOADS[0]}.txt"\r\nContent-Transfer-Encoding: base64\r\n\r\n{attachment}\r\n--b1--\r\n'
    ).encode()


def watch(page: Any, fired: list[str]) -> Any:
    page.on("console", lambda msg: fired.append(f"{page.url}: {msg.text}") if MARK in msg.text else None)
    page.on("dialog", lambda dialog: (fired.append(f"{page.url}: dialog {dialog.message}"), dialog.dismiss()))
    return page


def test_no_shopper_or_sender_field_runs_as_script_in_the_console(
        app: Flask, inbox: Any, live_server: LiveServer, browser: Any) -> None:  # noqa: F811
    fired: list[str] = []
    admin = make_agent(app, "root@example.com", "admin", "Root Admin")
    _mail_inbox, mail_token = make_inbox(app, "Support mail", "email", address="support@shop.example")
    console = watch(agent_page(browser, live_server, admin.email), fired)
    console.goto(f"{live_server.url}/console?view=all&status=open")

    shopper = Recorder()
    shopper.client.connect(live_server.url, namespaces=["/widget"], auth={"site": inbox.site_key},
                           transports=["websocket"])
    try:
        wait_until(lambda: shopper.of("session"), timeout=10, message="the widget session")
        call = shopper.client.call
        assert call("contact:update", {"name": PAYLOADS[0][:190], "email": "shopper@example.com"},
                    namespace="/widget", timeout=10)["ok"]
        sent = call("message:send", {"client_msg_id": "x1", "body": P}, namespace="/widget", timeout=10)
        chat_id = sent["message"]["conversation_id"]
        expect(console.locator("#rows .row").first).to_be_visible()
        mailed = requests.post(f"{live_server.url}/inbound/email/raw", data=html_mail("support@shop.example"),
                               headers={"Authorization": f"Bearer {mail_token}",
                                        "Content-Type": "message/rfc822"}, timeout=10)
        assert mailed.status_code == 202, mailed.text
        email_id = mailed.json()["conversation_id"]
        with db_of(app).unit_of_work() as s:
            chat = s.scalar(select(Conversation).filter_by(public_id=chat_id))
            now = datetime(2026, 11, 1, tzinfo=UTC)
            order, _ = orders.upsert_order(s, SYSTEM, OrderData(
                platform="shopify", shop="shop.example", order_id="9", number="1009", name="#1009",
                placed_at=now, updated_at=now, total=Decimal("5.00"), currency="EUR", email="shopper@example.com",
                shipping_address={"name": P, "address1": P, "city": PAYLOADS[1]},
                line_items=[LineItemData(title=P[:250], quantity=1, price=Decimal("5.00"), variant=PAYLOADS[0])]))
            order.customer_id = chat.customer_id
            chat.status = Status.resolved
            survey = csat.create_survey(s, chat)
            csat.submit_score(s, customer_actor(chat.customer), survey, 1, P)
            chat_customer, email_customer = chat.customer.public_id, s.scalar(
                select(Conversation).filter_by(public_id=email_id)).customer.public_id

        console.goto(f"{live_server.url}/console/c/{chat_id}")
        expect(console.locator("#thread .msg-customer .msg-body").first).to_contain_text("onerror")
        # Live: a new message and a typing notice rendered by the page's script.
        call("message:send", {"client_msg_id": "x2", "body": P, "conversation_id": chat_id}, namespace="/widget",
             timeout=10)
        shopper.client.emit("typing", {"conversation_id": chat_id, "typing": True}, namespace="/widget")
        expect(console.locator("#thread .msg-customer .msg-body")).to_have_count(2)
        for path in (f"/console/c/{email_id}", f"/console/customers/{chat_customer}",
                     f"/console/customers/{email_customer}", "/console/customers", "/console?view=all&status=all",
                     "/reports", "/admin/mail?status=processed"):
            console.goto(f"{live_server.url}{path}")
            console.wait_for_load_state("networkidle")
        console.goto(f"{live_server.url}/console/c/{email_id}?images=1")  # the HTML mail with images let in
        console.wait_for_load_state("networkidle")
        assert "onerror" in console.content()  # the payloads are on the pages, as text
    finally:
        shopper.client.disconnect()
    assert fired == []
