"""In Chromium: an admin builds a rule with selects (no JSON), dry-runs it, saves it, and the
worker of the live server applies it; an agent applies a macro with the `m` shortcut. The page
must work under the CSP (no inline script): any CSP violation fails the test."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import requests

from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.crm import services as crm
from helpdesk.db import Database
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation
from helpdesk.tickets.rules.models import AutomationRule, Macro
from tests.conftest import PASSWORD, LiveServer
from tests.servers import wait_until

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.browser
def test_build_dry_run_save_and_apply_a_macro_with_m(live_server: LiveServer, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    shots = Path(os.environ.get("HELPDESK_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    db = Database(live_server.database_url)
    try:
        with db.unit_of_work() as s:
            accounts.create_agent(s, SYSTEM, email="admin@example.com", password=PASSWORD, role="admin",
                                  name="Adam Admin")
            inbox, _ = tickets.create_inbox(s, SYSTEM, name="Web chat", channel="chat")
            customer = crm.customer_for_email(s, SYSTEM, "ann@example.com", "Ann Lee")
            old = tickets.create_conversation(s, SYSTEM, inbox=inbox, customer=customer, subject="Refund for 1001")
            old_ref = old.ref
        problems: list[str] = []
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{live_server.url}/login")
            page.fill("input[name=email]", "admin@example.com")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{live_server.url}/admin/rules")
            page.fill("input[name=name]", "Refunds")
            page.select_option("select[name=event]", "conversation.created")
            page.click("[data-add=conditions]")
            row = page.locator("[data-rows=conditions] .builder-row").first
            row.locator(".b-field").select_option("subject")
            row.locator(".b-op").select_option("contains")
            row.locator(".b-value").fill("refund")
            action = page.locator("[data-rows=actions] .builder-row").first
            action.locator(".b-type").select_option("add_tag")
            action.locator(".b-value").fill("refund")
            page.click("button[name=dry_run]")
            page.wait_for_selector("#dry-run")
            assert f"#{old_ref}" in page.inner_text("#dry-run")
            page.screenshot(path=str(shots / "rule-builder-dry-run.png"), full_page=True)
            # The builder comes back with the draft's rows: save it as it stands.
            assert page.locator("[data-rows=conditions] .b-value").first.input_value() == "refund"
            page.click("#rule-builder button.primary")
            page.wait_for_load_state()
            assert "Rule 'Refunds' saved" in page.content()

            with db.unit_of_work() as s:
                rule = s.query(AutomationRule).one()
                assert rule.conditions == [{"field": "subject", "op": "contains", "value": "refund"}]
                admin = s.query(Agent).one()
                token = accounts.create_api_token(s, SYSTEM, admin, "browser test")
                inbox_id = s.merge(inbox).public_id
            # Through the app (its dispatcher writes the rules job in the same transaction).
            created = requests.post(f"{live_server.url}/api/v1/conversations", timeout=10,
                                    headers={"Authorization": f"Bearer {token}"},
                                    json={"inbox": inbox_id, "customer": {"email": "bo@example.com"},
                                          "subject": "A refund?", "body": "Hello"})
            assert created.status_code == 201, created.text
            new_public = created.json()["id"]
            with db.unit_of_work() as s:
                new_id = s.query(Conversation).filter_by(public_id=new_public).one().id

            def tagged() -> bool:
                with db.unit_of_work() as s:
                    return [t.name for t in s.get(Conversation, new_id).tags] == ["refund"]
            wait_until(tagged, timeout=20, message="the live server's worker to run the rule")

            page.goto(f"{live_server.url}/console/macros")
            page.fill("input[name=name]", "Urgent")
            macro_row = page.locator("[data-rows=actions] .builder-row").first
            macro_row.locator(".b-type").select_option("set_priority")
            macro_row.locator(".b-value").select_option("urgent")
            page.click("#macro-builder button.primary")
            page.wait_for_load_state()
            with db.unit_of_work() as s:
                macro_id = s.query(Macro).one().public_id
            page.goto(f"{live_server.url}/console/c/{new_public}")
            page.keyboard.press("m")
            focused: Any = page.evaluate("document.activeElement.getAttribute('data-shortcut-focus')")
            assert focused == "m"
            page.select_option("[data-shortcut-focus=m]", macro_id)
            page.wait_for_load_state()
            wait_until(lambda: "Macro 'Urgent'" in page.content(), timeout=10, message="the macro to apply")
            browser.close()
        with db.unit_of_work() as s:
            assert s.get(Conversation, new_id).priority.value == "urgent"
        assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
        assert requests.get(f"{live_server.url}/static/rules.js", timeout=5).status_code == 200
    finally:
        db.dispose()
