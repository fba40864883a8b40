"""Issue 15 part 7, the sweep in Debian's Chromium: what the console's scripts write is in the
agent's language too. A German queue (the bulk bar's count, the presence button, the roster, a row
that arrives live with its status pill and relative time, the SLA badge once sla.js counts down)
and a Polish one (the three plural forms of "N selected"). One page load per language."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.tickets.models import Conversation
from helpdesk.tickets.sla import services as sla
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


def test_the_console_scripts_write_german_and_polish(app: Flask, agent: Any, server: LiveServer) -> None:
    from playwright.sync_api import sync_playwright

    inbox, _ = make_inbox(app)
    with db_of(app).unit_of_work() as s:
        sla.create_policy(s, SYSTEM, {"name": "Standard", "targets": {"first_response_minutes": 90}})
        s.get(type(inbox), inbox.id).assign_on_reply = False
    convs = [make_conversation(app, inbox, email=f"c{i}@example.com", name=f"Kunde {i}") for i in range(5)]
    with db_of(app).unit_of_work() as s:
        late = s.get(Conversation, convs[0].id)
        late.created_at -= timedelta(hours=3)
        sla.apply(s, late, late.created_at)
        token = accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "browser")

    def open_queue(browser: Any, lang: str) -> Any:
        context = browser.new_context(locale=lang, extra_http_headers={"Accept-Language": lang},
                                      viewport={"width": 1300, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{server.url}/login")
        page.fill("input[name=email]", agent.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/console**")
        page.goto(f"{server.url}/console?view=all&status=open")
        page.wait_for_function("() => document.querySelector('.presence-toggle')?.dataset.status === 'online'",
                               timeout=15_000)
        return page, problems

    def tick(page: Any, n: int) -> str:
        boxes = page.locator("#rows input.pick")
        for i in range(boxes.count()):
            boxes.nth(i).set_checked(i < n)
        return page.locator("#bulk-count").inner_text().strip()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page, problems = open_queue(browser, "de")
            assert page.locator("html").get_attribute("lang") == "de"
            assert page.locator("#bulk-count").inner_text().strip() == "Auswählen"
            assert tick(page, 1) == "1 ausgewählt" and tick(page, 3) == "3 ausgewählt"
            assert page.locator(".presence-toggle .presence-label").inner_text() == "Online"
            assert "Klicke" in (page.locator(".presence-toggle").get_attribute("title") or "")
            roster = page.locator("#live-roster").inner_text()
            assert "(du)" in roster and "(you)" not in roster
            badge = page.locator(f'.row[data-conversation="{convs[0].public_id}"] .sla')
            assert badge.inner_text().startswith("überfällig seit")
            # sla.js counts down with the same words and units (its 30 s tick calls these).
            assert page.evaluate("""() => [HelpdeskI18n.t("sla.due_in", {time: HelpdeskI18n.span(95 * 60000)}),
                                            HelpdeskI18n.span(2 * 86400000 + 3600000)]""") == [
                "fällig in 1h 35 Min.", "2 T 1h"]

            # A conversation arrives live: its row is built by console-live.js, in German.
            body = json.dumps({"inbox": inbox.public_id, "customer": {"email": "new@example.com", "name": "Nina"},
                               "subject": "", "body": "hi"}).encode()
            request = urllib.request.Request(f"{server.url}/api/v1/conversations", data=body, method="POST",
                                             headers={"Authorization": f"Bearer {token}",
                                                      "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                new_id = json.loads(response.read())["id"]
            row = page.locator(f'#rows .row[data-conversation="{new_id}"]')
            row.wait_for(timeout=15_000)
            text = row.inner_text()
            assert "offen" in text.lower() and "Übernehmen" in text and "Nicht zugewiesen" in text, text
            assert row.locator("input.pick").get_attribute("aria-label") == "Nina auswählen"
            assert row.locator("time").inner_text() in ("jetzt", "gerade eben", "vor 0 Sekunden"), text
            assert problems == []
            page.context.close()

            page, problems = open_queue(browser, "pl")
            assert page.locator("html").get_attribute("lang") == "pl"
            assert [tick(page, n) for n in (1, 2, 5)] == ["1 zaznaczona", "2 zaznaczone", "5 zaznaczonych"]
            assert problems == []
        finally:
            browser.close()
