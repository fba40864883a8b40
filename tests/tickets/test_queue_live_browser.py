"""The queue in a real browser: a row that arrives live has a tick box, and Claim moves the counters."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from tests.conftest import PASSWORD, LiveServer, start_live_server, stop_live_server
from tests.factories import make_conversation, make_inbox

pytestmark = pytest.mark.browser
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def server(app: Flask, database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path, database_url)
    yield live
    stop_live_server(live)


def test_claim_updates_mine_unassigned_and_tab_counts_and_live_rows_can_be_ticked(
        app: Flask, agent: Any, server: LiveServer) -> None:
    from playwright.sync_api import sync_playwright

    inbox, _ = make_inbox(app)
    for i in range(2):
        make_conversation(app, inbox, email=f"waiting{i}@example.com")
    with db_of(app).unit_of_work() as s:
        # The API call below opens a conversation with the agent's first message: that would take
        # it (assign on reply); this test needs it to arrive unassigned.
        s.get(type(inbox), inbox.id).assign_on_reply = False
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "browser")

    def count(page: Any, selector: str) -> str:
        return page.locator(selector).inner_text().strip()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(f"{server.url}/login")
            page.fill("input[name=email]", agent.email)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/console**")
            page.goto(f"{server.url}/console?view=unassigned&status=open")
            page.wait_for_function("() => !document.body.classList.contains('live-off') && "
                                   "document.querySelector('.presence-toggle')?.dataset.status !== 'offline'",
                                   timeout=15_000)
            assert count(page, '[data-view-count="mine"]') == "0"
            assert count(page, '[data-view-count="unassigned"]') == "2"
            assert count(page, '[data-status-count="open"]') == "2"

            # A conversation arrives through the live server's API: it shows up as a row with a tick box.
            body = json.dumps({"inbox": inbox.public_id, "customer": {"email": "new@example.com", "name": "Nina"},
                               "subject": "Live one", "body": "hi"}).encode()
            request = urllib.request.Request(f"{server.url}/api/v1/conversations", data=body, method="POST",
                                             headers={"Authorization": f"Bearer {token}",
                                                      "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                new_id = json.loads(response.read())["id"]
            row = page.locator(f'#rows .row[data-conversation="{new_id}"]')
            row.wait_for(timeout=15_000)
            assert row.locator("input.pick[name=ids]").count() == 1
            page.wait_for_function("() => document.querySelector('[data-status-count=\"open\"]').textContent === '3'",
                                   timeout=10_000)
            assert count(page, '[data-view-count="unassigned"]') == "3"

            row.locator("input.pick").check()
            assert "1 selected" in page.locator("#bulk-count").inner_text()

            row.locator("button.claim").click()
            page.wait_for_function("() => document.querySelector('[data-view-count=\"mine\"]').textContent === '1'",
                                   timeout=15_000)
            assert count(page, '[data-view-count="unassigned"]') == "2"
            assert count(page, '[data-view-count="all"]') == "3"
            assert count(page, '[data-status-count="open"]') == "2"  # it left the Unassigned view
            page.wait_for_function(f"() => !document.querySelector('#rows .row[data-conversation=\"{new_id}\"]')",
                                   timeout=10_000)
        finally:
            browser.close()
