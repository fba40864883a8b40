"""The dashboard in Debian's Chromium: the charts are drawn, the agent table sorts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.runtime import runtime_of
from tests.conftest import PASSWORD, LiveServer
from tests.reports.month import build_month

pytestmark = pytest.mark.browser
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
CSAT_CELLS = "#agent-table tbody tr td:nth-child(2)"
SCREENS = os.environ.get("HELPDESK_SCREENS")  # e.g. /work/screens/reports: keep the screenshots


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def add_self_service(session: Session) -> None:
    """Lookups and tracking answered in the widget on some days of the month (deflection chart)."""
    from datetime import UTC, datetime

    from helpdesk.orders.models import Order
    from helpdesk.selfservice.models import Kind, SelfServiceRequest, Status

    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    order = Order(platform="shopify", shop="s.example", order_id="1", number="1001", placed_at=at,
                  platform_updated_at=at)
    session.add(order)
    session.flush()
    for day in range(1, 32):
        for n in range(day % 4):
            session.add(SelfServiceRequest(kind=Kind.track if n % 2 else Kind.lookup, status=Status.done,
                                           order_id=order.id, created_at=at.replace(day=day)))


def test_the_dashboard_draws_its_charts_and_sorts_agents(app: Flask, session: Session, manager: Agent,
                                                         live_server: LiveServer, browser: Any,
                                                         tmp_path: Path) -> None:
    build_month(session)
    add_self_service(session)
    session.commit()
    screens = Path(SCREENS) if SCREENS else tmp_path
    screens.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console**")
    page.goto(f"{live_server.url}/reports?from=2026-03-01&to=2026-03-31")
    # CSAT and volume, scores, and the self-service (deflection) chart.
    page.wait_for_function("window.helpdeskCharts && window.helpdeskCharts.length === 3", timeout=10_000)
    assert page.evaluate("() => Chart.getChart(document.getElementById('deflection-chart')).config.type") == "bar"

    charts = page.evaluate("""() => ['trend-chart', 'scores-chart'].map(id => {
        const canvas = document.getElementById(id);
        const chart = Chart.getChart(canvas);
        const {width, height} = canvas;
        const pixels = canvas.getContext('2d').getImageData(0, 0, width, height).data;
        let painted = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
        return {exists: !!chart, type: chart && chart.config.type, width, height, painted,
                points: chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0};
    })""")
    trend, scores = charts
    assert trend["exists"] and scores["exists"]
    assert trend["width"] > 300 and trend["height"] > 150
    assert trend["painted"] > 2000 and scores["painted"] > 2000, charts  # pixels actually drawn
    assert trend["points"] == 4 * 31 and scores["points"] == 5  # CSAT line, answers, created, resolved
    page.screenshot(path=str(screens / "dashboard.png"), full_page=True)
    page.locator("#deflection").screenshot(path=str(screens / "dashboard-deflection.png"))

    # Sort the agent table by CSAT, best first, then reversed.
    csat_head = page.locator("#agent-table th", has_text="CSAT")
    csat_head.click()
    values = page.eval_on_selector_all(CSAT_CELLS, "tds => tds.map(t => +t.dataset.v)")
    assert values == sorted(values, reverse=True) and len(values) == 5
    csat_head.click()
    values = page.eval_on_selector_all(CSAT_CELLS, "tds => tds.map(t => +t.dataset.v)")
    assert values == sorted(values)

    # The low-score feed links to the conversation in the console.
    first_low = page.locator(".low-item a").first
    assert "/console/" in (first_low.get_attribute("href") or "")
    page.locator(".low-feed").scroll_into_view_if_needed()
    page.screenshot(path=str(screens / "dashboard-low-scores.png"), full_page=False)


def test_a_customer_scores_from_the_email_link_and_adds_a_comment(app: Flask, session: Session, agent: Agent,
                                                                  live_server: LiveServer, browser: Any,
                                                                  tmp_path: Path) -> None:
    from helpdesk.actors import SYSTEM
    from helpdesk.jobs import Worker
    from helpdesk.tickets import csat
    from helpdesk.tickets import services as tickets
    from helpdesk.tickets.csat_models import CsatSurvey
    from helpdesk.tickets.models import Conversation
    from tests.factories import make_conversation, make_inbox

    inbox, _ = make_inbox(app, "Support mail", "email", "support@shop.example")
    conv = make_conversation(app, inbox, subject="Wrong size delivered")
    with app.extensions["helpdesk.db"].unit_of_work() as s:
        tickets.assign(s, SYSTEM, s.get(Conversation, conv.id), s.get(Agent, agent.id))
        tickets.set_status(s, SYSTEM, s.get(Conversation, conv.id), "resolved")
    Worker(runtime_of(app)).run_until_idle(max_jobs=10)
    survey = session.query(CsatSurvey).one()
    # The live server signs with its own secret: build the link the way its mail would.
    _, text, html = csat.survey_email(survey, secret_key="live-secret", base_url=live_server.url)
    link = next(line.split(": ", 1)[1] for line in text.splitlines() if line.strip().startswith("4 -"))
    survey_id = survey.id
    session.rollback()  # SQLite: an open reading transaction would block the server's writes
    screens = Path(SCREENS) if SCREENS else tmp_path
    screens.mkdir(parents=True, exist_ok=True)

    page = browser.new_page(viewport={"width": 900, "height": 820})
    page.set_content(html)
    page.screenshot(path=str(screens / "survey-email.png"))
    page.goto(link.split("?")[0])  # without a score: a picker, and the link is not spent
    assert page.locator("[data-pick]").count() == 5
    page.screenshot(path=str(screens / "survey-picker.png"))
    page.goto(link)
    assert page.locator("[data-score='4']").is_visible()
    page.screenshot(path=str(screens / "survey-page.png"))
    page.locator("label.face", has_text="Okay").click()
    page.fill("textarea[name=comment]", "Fine, but the exchange took a week.")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Thanks, we got it")
    with app.extensions["helpdesk.db"].unit_of_work() as s:
        stored = s.get(CsatSurvey, survey_id)
        assert (stored.score, stored.comment) == (3, "Fine, but the exchange took a week.")
    page.goto(link)  # the one-click link works once
    assert page.locator("[data-error='token_used']").is_visible()
    page.screenshot(path=str(screens / "survey-link-used.png"))
