"""Screenshots of the 360 page and the conversation sidebar in Debian's Chromium (looked at by a human)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from helpdesk import db_of, jobs
from helpdesk.actors import agent_actor
from helpdesk.crm import services as crm
from helpdesk.crm.models import CrmContact, CrmSyncState, Customer, IdentityKind
from helpdesk.db import utcnow
from helpdesk.tickets import services as tickets
from tests.conftest import PASSWORD, make_agent, start_live_server, stop_live_server
from tests.factories import make_conversation, make_inbox

SCREENS = Path(os.environ.get("HELPDESK_SCREENS", "/work/screens/crm"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def seed(app: Flask, agent: Any) -> tuple[str, str]:
    chat, _ = make_inbox(app, "Web chat")
    mail, _ = make_inbox(app, "Support email", "email", "support@shop.example")
    first = make_conversation(
        app,
        chat,
        email="ann@example.com",
        name="Ann Lee",
        subject="Tent pole snapped on day two",
        body="Hi! The middle pole of my Trailblazer 2 tent snapped. Can you help?",
    )
    make_conversation(
        app,
        mail,
        email="ann@example.com",
        subject="Invoice for order #1042",
        body="Could you send the invoice with our VAT number?",
    )
    make_conversation(app, chat, email="ann@example.com", subject="Do you ship to Austria?", body="Shipping?")
    actor = agent_actor(agent)
    with db_of(app).unit_of_work() as s:
        customer = s.get(Customer, first.customer_id)
        crm.update_customer(s, actor, customer, phone="+49 30 1234 5678")
        crm.add_identity(s, customer, IdentityKind.visitor, "v_8f2c1d0a", verified=True)
        crm.add_identity(s, customer, IdentityKind.external, "1001", "hubspot")
        s.add(
            CrmContact(
                provider="hubspot",
                external_id="1001",
                customer_id=customer.id,
                email="ann@example.com",
                name="Ann Lee",
                company="Acme Outdoor GmbH",
                lifecycle="customer",
                owner="Olga Owner",
                url="https://app.hubspot.com/contacts/4242/record/0-1/1001",
                deals=[
                    {
                        "id": "9001",
                        "name": "Spring restock 2027",
                        "amount": "12500.00",
                        "stage": "contractsent",
                        "close_date": "2027-02-28",
                        "url": "https://app.hubspot.com/contacts/4242/record/0-3/9001",
                    },
                    {
                        "id": "9002",
                        "name": "Trade-show tents",
                        "amount": "3400.00",
                        "stage": "closedwon",
                        "close_date": "2026-10-01",
                        "url": None,
                    },
                ],
            )
        )
        crm.add_note(s, actor, customer, "Buys for a scout group; prefers email. Ask before shipping splits.")
        conv = tickets.get_conversation(s, first.public_id)
        tickets.post_message(
            s, actor, conv, body="So sorry! A replacement pole ships today, tracking follows."
        )
        others = [c for c in s.scalars(s.query(type(conv)).statement) if c.id != conv.id]
        tickets.set_status(s, actor, others[0], "resolved")
        return customer.public_id, first.public_id


@pytest.mark.browser
def test_screenshot_360_page_and_sidebar(app: Flask, agent: Any, database_url: str, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    customer_id, conversation_id = seed(app, agent)
    admin = make_agent(app, "adam@example.com", "admin", "Adam Admin")
    with db_of(app).unit_of_work() as s:
        now = utcnow()
        s.add(
            CrmSyncState(
                provider="hubspot",
                watermark=now,
                last_pull_at=now,
                full=False,
                auth_failed=False,
                counts={"pulled": 100000, "requests": 3130, "failures": 1, "conflicts": 2},
                last_error="1 of 214 deals could not be read: 88812",
                last_error_at=now,
            )
        )
        job = jobs.enqueue(s, "crm.push", {"action": "open"})
        job.state, job.attempts, job.finished_at = jobs.JobState.dead, 1, now
        job.last_error = (
            "HubSpot refused the request (400): Property values were not valid: hs_pipeline_stage"
        )
    db_of(app).dispose()
    server = start_live_server(tmp_path, database_url)
    SCREENS.mkdir(parents=True, exist_ok=True)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"{server.url}/login")
            page.fill("input[name=email]", agent.email)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/console**")
            page.goto(f"{server.url}/console/customers/{customer_id}")
            page.wait_for_selector("text=Acme Outdoor GmbH")
            page.screenshot(path=str(SCREENS / "customer-360.png"), full_page=True)
            page.goto(f"{server.url}/console/c/{conversation_id}")
            page.wait_for_selector("text=Spring restock 2027")
            page.set_viewport_size({"width": 1440, "height": 1300})
            page.screenshot(path=str(SCREENS / "conversation-sidebar.png"), full_page=False)
            page.set_viewport_size({"width": 1440, "height": 1000})
            page.goto(f"{server.url}/console/customers")
            page.screenshot(path=str(SCREENS / "customers.png"))
            admin_page = browser.new_page(viewport={"width": 1440, "height": 1000})
            admin_page.goto(f"{server.url}/login")
            admin_page.fill("input[name=email]", admin.email)
            admin_page.fill("input[name=password]", PASSWORD)
            admin_page.click("button[type=submit]")
            admin_page.wait_for_url("**/console**")
            admin_page.goto(f"{server.url}/admin/crm")
            admin_page.screenshot(path=str(SCREENS / "admin-crm.png"), full_page=True)
            browser.close()
    finally:
        stop_live_server(server)
    assert (SCREENS / "customer-360.png").stat().st_size > 10_000
