"""In Chromium under the console's CSP: the tab title counts a new chat, the notification control
asks for permission only when clicked, and the sound toggle is remembered."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from helpdesk.accounts import services as accounts
from helpdesk.actors import SYSTEM
from helpdesk.db import Database
from helpdesk.tickets import services as tickets
from tests.conftest import PASSWORD, LiveServer

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.browser
def test_title_counts_a_new_chat_and_the_controls_work(live_server: LiveServer) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    db = Database(live_server.database_url)
    try:
        with db.unit_of_work() as s:
            agent = accounts.create_agent(s, SYSTEM, email="alice@example.com", password=PASSWORD, name="Alice")
            token = accounts.create_api_token(s, SYSTEM, agent, "browser test")
            inbox, _ = tickets.create_inbox(s, SYSTEM, name="Web chat", channel="chat")
            inbox_id = inbox.public_id
        problems: list[str] = []
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{live_server.url}/login")
            page.fill("input[name=email]", "alice@example.com")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            page.wait_for_function("() => window.HelpdeskConsoleSocket && window.HelpdeskConsoleSocket.connected",
                                   timeout=15_000)
            assert not page.title().startswith("(")
            # Nothing was asked on load: the permission is still "default" and the control shows.
            assert page.evaluate("Notification.permission") == "default"
            assert page.locator("[data-alerts-enable]").is_visible()
            page.check("[data-alerts-sound]")
            assert page.evaluate("localStorage.getItem('helpdesk.alerts.sound')") == "on"

            def new_chat(email: str) -> Any:
                r = requests.post(f"{live_server.url}/api/v1/conversations", timeout=10,
                                  headers={"Authorization": f"Bearer {token}"},
                                  json={"inbox": inbox_id, "customer": {"email": email}, "subject": "Order?",
                                        "body": "Hello"})
                assert r.status_code == 201, r.text
            new_chat("ann@example.com")
            page.wait_for_function("() => document.title.startsWith('(1) ')", timeout=15_000)
            new_chat("bob@example.com")
            page.wait_for_function("() => document.title.startsWith('(2) ')", timeout=15_000)
            page.reload()
            assert page.is_checked("[data-alerts-sound]")  # the toggle is remembered
            browser.close()
        assert not [m for m in problems if "Content Security Policy" in m or "Refused" in m], problems
    finally:
        db.dispose()
