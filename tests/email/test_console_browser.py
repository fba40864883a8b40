"""The agent sees an email as a person would in Chromium: sanitised, images blocked until asked,
the quoted history folded one click away; the admin page of inbound mail. Screenshots are written
to $HELPDESK_SCREENSHOTS (default: the test's tmp folder) for a human to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from helpdesk.actors import SYSTEM
from helpdesk.db import Database
from helpdesk.tickets import services as tickets
from tests.conftest import PASSWORD, start_live_server, stop_live_server
from tests.email.test_display import html_mail
from tests.servers import wait_until

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def live_server(database_url: str, tmp_path: Path, smtp):
    """`helpdesk run` (with its in-process job worker) sending through the SMTP sink."""
    server = start_live_server(tmp_path, database_url, env={"HELPDESK_SMTP_URL": smtp.url,
                                                            "HELPDESK_EMAIL_DOMAIN": "helpdesk.test"})
    yield server
    stop_live_server(server)


@pytest.mark.browser
def test_agent_reads_an_html_mail_answers_it_and_sees_it_sent(live_server, smtp, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    shots = Path(os.environ.get("HELPDESK_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    db = Database(live_server.database_url)
    try:
        from helpdesk.accounts import services as accounts

        with db.unit_of_work() as s:
            accounts.create_agent(s, SYSTEM, email="admin@example.com", password=PASSWORD, role="admin",
                                  name="Adam Admin")
            _inbox, token = tickets.create_inbox(s, SYSTEM, name="Support mail", channel="email",
                                                 address="support@shop.example")
    finally:
        db.dispose()
    response = requests.post(f"{live_server.url}/inbound/email/raw", data=html_mail(), timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.text
    conversation_id = response.json()["conversation_id"]
    requests.post(f"{live_server.url}/inbound/email/raw", data=b"Subject: broken\r\n\r\n\xff", timeout=10,
                  headers={"Authorization": f"Bearer {token}"})

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(f"{live_server.url}/login")
        page.fill("input[name=email]", "admin@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/console/c/{conversation_id}")
        assert page.locator(".email-flag.images").is_visible()
        assert not page.locator(".email-quoted .email-html").is_visible()
        assert not any("tracker.example" in url for url in requested)
        page.screenshot(path=str(shots / "email-conversation.png"), full_page=True)
        page.click(".email-quoted > summary")
        assert page.locator(".email-quoted .email-html").is_visible()
        page.click(".email-flag.images a")
        page.wait_for_load_state()
        assert any("tracker.example" in url for url in requested)  # only now, on request
        page.fill("#reply", "Sorry about the lid! A new one is on its way today.\n\nAdam")
        page.click("#composer button[type=submit]")
        page.wait_for_load_state()
        wait_until(lambda: smtp.messages, timeout=15, message="the reply to reach the SMTP server")

        def shows_sent() -> bool:
            page.reload()
            return page.locator(".delivery.d-sent").count() == 1

        wait_until(shows_sent, timeout=15, interval=0.3, message="the console to show sent")
        page.screenshot(path=str(shots / "email-conversation-replied.png"), full_page=True)
        sent = smtp.parsed()
        assert sent["In-Reply-To"] == "<h1@example.com>"
        answer = (f"From: Ann <ann@example.com>\r\nTo: support@shop.example\r\nSubject: {sent['Subject']}\r\n"
                  f"Message-ID: <h2@example.com>\r\nIn-Reply-To: {sent['Message-ID']}\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n\r\nGreat, thank you! It arrived.\r\n\r\n"
                  "On Sat, 28 Nov 2026, Adam Admin wrote:\r\n"
                  "> Sorry about the lid! A new one is on its way.\r\n> \r\n> Adam\r\n").encode()
        threaded = requests.post(f"{live_server.url}/inbound/email/raw", data=answer, timeout=10,
                                 headers={"Authorization": f"Bearer {token}"}).json()
        assert threaded["conversation_id"] == conversation_id and threaded["reason"] == "in_reply_to"
        page.reload()
        assert page.locator("text=Threaded by In-Reply-To").is_visible()
        assert not page.locator(".email-quoted .email-html").last.is_visible()  # the quote is folded
        page.screenshot(path=str(shots / "email-thread.png"), full_page=True)
        page.goto(f"{live_server.url}/admin/mail?status=failed")
        assert page.locator("text=Re-process").first.is_visible()
        page.screenshot(path=str(shots / "email-admin.png"), full_page=True)
        browser.close()


@pytest.mark.browser
def test_a_failed_reply_shows_its_reason_and_retry_sends_it_live(live_server, smtp, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    shots = Path(os.environ.get("HELPDESK_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    db = Database(live_server.database_url)
    try:
        from helpdesk.accounts import services as accounts

        with db.unit_of_work() as s:
            accounts.create_agent(s, SYSTEM, email="agent@example.com", password=PASSWORD, role="agent",
                                  name="Alice Agent")
            _inbox, token = tickets.create_inbox(s, SYSTEM, name="Support mail", channel="email",
                                                 address="support@shop.example")
    finally:
        db.dispose()
    conversation_id = requests.post(f"{live_server.url}/inbound/email/raw", data=html_mail(), timeout=10,
                                    headers={"Authorization": f"Bearer {token}"}).json()["conversation_id"]
    smtp.refuse = "550 5.1.1 mailbox unavailable"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{live_server.url}/login")
        page.fill("input[name=email]", "agent@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/console/c/{conversation_id}")
        page.fill("#reply", "A new lid is on its way.")
        page.click("#composer button[type=submit]")
        failure = page.locator(".delivery-failure")
        failure.wait_for(state="visible", timeout=20_000)  # live, without a reload
        assert "Not delivered: SMTP 550: 5.1.1 mailbox unavailable" in failure.inner_text()
        page.screenshot(path=str(shots / "email-reply-failed.png"), full_page=True)
        smtp.refuse = None
        failure.locator("button", has_text="Retry").click()
        page.locator(".delivery-failure").wait_for(state="detached", timeout=10_000)
        page.locator(".delivery.d-sent").wait_for(state="visible", timeout=20_000)
        assert len(smtp.messages) == 1
        page.screenshot(path=str(shots / "email-reply-retried.png"), full_page=True)
        browser.close()
