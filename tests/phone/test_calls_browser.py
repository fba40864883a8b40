"""In Debian's Chromium with a German browser: the console speaks German, an agent logs a call
from "Neuer Anruf" and the conversation shows its call card (under the CSP, no console errors)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from helpdesk.accounts.models import Agent
from tests.conftest import PASSWORD, LiveServer
from tests.factories import make_conversation, make_inbox
from tests.reports.test_dashboard_browser import browser  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser
SCREENS = os.environ.get("HELPDESK_SCREENS")  # e.g. /work/screens/i18n: keep the screenshots


def test_a_german_agent_logs_a_call_and_sees_its_card(app: Flask, agent: Agent, live_server: LiveServer,
                                                      browser: Any, tmp_path: Path) -> None:  # noqa: F811
    inbox = make_inbox(app)[0]
    make_conversation(app, inbox, email="erika@example.de", name="Erika Mustermann", subject="Lieferung")
    context = browser.new_context(locale="de-DE", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.goto(f"{live_server.url}/login")
    assert page.locator("button[type=submit]").inner_text() == "Anmelden"
    page.fill("input[name=email]", agent.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console**")
    page.goto(f"{live_server.url}/console?view=all")
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator(".views-title").inner_text() == "Konversationen"
    assert page.locator("button:has-text('Mir zuweisen')").count() == 1
    shots = Path(SCREENS) if SCREENS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "console-de.png"))

    page.click("[data-new-call]")
    page.fill("input[name=q]", "erika")
    page.click("form[role=search] button[type=submit]")
    caller = page.locator("input[name=customer]").first
    assert "Erika Mustermann" in page.locator("fieldset.checks").inner_text() and caller.is_checked()
    form = page.locator("#new-call")
    form.locator("input[name=duration]").fill("7:45")
    form.locator("textarea[name=notes]").fill("Möchte die Lieferadresse ändern.")
    form.locator("input[name=recording_url]").fill("https://pbx.example.de/aufnahmen/42.mp3")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/console/c/**")
    assert page.locator(".flash").first.inner_text() == "Anruf protokolliert."
    card = page.locator(".call-card")
    assert "Eingehender Anruf" in card.inner_text() and "7:45" in card.inner_text()
    assert card.locator("a").get_attribute("href") == "https://pbx.example.de/aufnahmen/42.mp3"
    assert "Möchte die Lieferadresse ändern." in page.locator("#thread").inner_text()

    # A second, outgoing call logged on the same conversation with "Anruf protokollieren".
    page.locator("#log-call summary").click()
    log = page.locator("#log-call form")
    log.locator("input[value=outbound]").check()
    log.locator("input[name=duration]").fill("1:05")
    log.locator("textarea[name=notes]").fill("Rückruf: Adresse geändert.")
    log.locator("button[type=submit]").click()
    page.wait_for_selector(".call-card.call-outbound")
    assert page.locator(".call-card").count() == 2
    page.screenshot(path=str(shots / "call-card-de.png"))
    assert problems == []
    context.close()
