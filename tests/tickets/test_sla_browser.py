"""The service-levels admin page and the queue's SLA badge in Debian's Chromium, under the CSP."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from helpdesk.accounts.models import Agent
from tests.conftest import PASSWORD, LiveServer
from tests.factories import make_conversation, make_inbox
from tests.reports.test_dashboard_browser import browser  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser


def test_an_admin_sets_up_service_levels_and_the_queue_counts_down(app: Flask, admin: Agent,
                                                                    live_server: LiveServer,
                                                                    browser: Any) -> None:  # noqa: F811
    inbox = make_inbox(app)[0]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    # Failed loads are caught by status below (Chromium's own /favicon.ico probe is not a page's).
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=email]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console**")

    page.goto(f"{live_server.url}/admin/service-levels")
    form = page.locator("#business-hours form.stack").last
    form.locator("input[name=name]").fill("Always open")
    form.locator("input[name=timezone]").fill("Europe/Berlin")
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        form.locator(f"input[name={day}_1_from]").fill("00:00")
        form.locator(f"input[name={day}_1_to]").fill("24:00")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("text=Business hours Always open saved.")

    policy = page.locator("#policies form.stack")
    policy.locator("input[name=name]").fill("Everything")
    policy.locator("select[name=business_hours]").select_option(label="Always open (Europe/Berlin)")
    policy.locator("input[name=first_response_minutes]").fill("90")
    policy.locator("button[type=submit]").click()
    page.wait_for_selector("text=Policy Everything saved.")
    assert "every conversation" in page.locator(".sla-policy").first.inner_text()

    conv = make_conversation(app, inbox)
    page.goto(f"{live_server.url}/console?view=all&sort=due")
    badge = page.locator(f'.row[data-conversation="{conv.public_id}"] .sla')
    assert badge.inner_text() in ("due in 1h 30m", "due in 1h 29m")
    assert "sla-ok" in (badge.get_attribute("class") or "")
    assert problems == []
