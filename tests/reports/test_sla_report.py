"""SLA figures in the reports: % met per agent, team, inbox and priority; due and breach CSV columns."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM, agent_actor
from helpdesk.reports.ranges import Filters, parse_period, timezone
from helpdesk.reports.sla import sla_met
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation
from helpdesk.tickets.sla import services as sla
from tests.conftest import login, make_agent
from tests.factories import make_conversation, make_inbox


def _range() -> str:
    today = datetime.now(UTC).date()
    return f"from={today - timedelta(days=1)}&to={today}"


def _scenario(app: Flask) -> dict[str, Conversation]:
    """Alice answers one in time and one late; Bob's is still running; one urgent has no agent."""
    alice = make_agent(app, "alice@example.com", name="Alice")
    bob = make_agent(app, "bob@example.com", name="Bob")
    inbox = make_inbox(app)[0]
    with db_of(app).unit_of_work() as s:
        sla.create_policy(s, SYSTEM, {"name": "Default", "targets": {"first_response_minutes": 60}})
    convs = {name: make_conversation(app, inbox, email=f"{name}@example.com")
             for name in ("on_time", "late", "running", "urgent_late")}
    with db_of(app).unit_of_work() as s:
        a, b = s.get(Agent, alice.id), s.get(Agent, bob.id)
        for name in ("late", "urgent_late"):
            c = s.get(Conversation, convs[name].id)
            c.created_at -= timedelta(minutes=90)
            sla.apply(s, c, c.created_at)
        tickets.set_priority(s, SYSTEM, s.get(Conversation, convs["urgent_late"].id), "urgent")
        for name, agent in (("on_time", a), ("late", a), ("running", b)):
            tickets.assign(s, SYSTEM, s.get(Conversation, convs[name].id), agent)
        for name in ("on_time", "late"):
            tickets.post_message(s, agent_actor(a), s.get(Conversation, convs[name].id), body="Hi")
    with db_of(app).unit_of_work() as s:
        sla.sweep(s, datetime.now(UTC))  # the worker's sweep finds the unanswered urgent one
    return convs


def test_sla_met_per_agent_and_priority(app: Flask) -> None:
    _scenario(app)
    today = datetime.now(UTC).date()
    period = parse_period({"from": str(today - timedelta(days=1)), "to": str(today)}, timezone("UTC"))
    with db_of(app).unit_of_work() as s:
        report = sla_met(s, period, Filters())
    assert report["totals"] == {"key": None, "label": "All", "conversations": 4, "met": 1, "breached": 2,
                                "running": 1, "met_rate": 0.3333}
    agents = {r["label"]: (r["met"], r["breached"], r["running"], r["met_rate"]) for r in report["agent"]}
    assert agents == {"Alice": (1, 1, 0, 0.5), "Bob": (0, 0, 1, None), "Unassigned": (0, 1, 0, 0.0)}
    priorities = [(r["key"], r["met_rate"]) for r in report["priority"]]
    assert priorities == [("normal", 0.5), ("urgent", 0.0)]
    assert [r["label"] for r in report["inbox"]] == ["Web chat"]
    assert report["team"][0]["label"] == "No team"


def test_the_dashboard_shows_the_sla_met_figures(app: Flask, client: FlaskClient, manager: Agent) -> None:
    _scenario(app)
    login(client, manager.email)
    html = client.get(f"/reports?{_range()}").get_data(as_text=True)
    assert 'data-kpi="sla_met">33%<' in html
    for group in ("agent", "team", "inbox", "priority"):
        assert f'data-sla-table="{group}"' in html


def test_the_csv_carries_due_times_and_breaches(app: Flask, client: FlaskClient, manager: Agent) -> None:
    convs = _scenario(app)
    login(client, manager.email)
    rows = {r["conversation_id"]: r for r in csv.DictReader(io.StringIO(
        client.get(f"/reports/conversations.csv?{_range()}").get_data(as_text=True)))}
    late, on_time = rows[convs["late"].public_id], rows[convs["on_time"].public_id]
    assert late["sla_policy"] == "Default" and late["sla_breached"] == "first_response"
    assert on_time["sla_breached"] == "" and on_time["first_response_due_at"].endswith("Z")
    assert late["next_response_due_at"] == "" and late["resolution_due_at"] == ""
    created = datetime.fromisoformat(on_time["created_at"].replace("Z", "+00:00"))
    due = datetime.fromisoformat(on_time["first_response_due_at"].replace("Z", "+00:00"))
    assert abs(due - created - timedelta(minutes=60)) <= timedelta(seconds=1)


def test_the_sla_figures_by_rest_for_managers_only(app: Flask, client: FlaskClient, manager: Agent) -> None:
    from helpdesk.accounts import services as accounts

    _scenario(app)
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.get(Agent, manager.id), "reports")
        agent_token = accounts.create_api_token(s, SYSTEM, s.scalar(
            select(Agent).filter_by(email="bob@example.com")), "reports")
    body = client.get(f"/api/v1/reports/sla?{_range()}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["totals"]["met_rate"] == 0.3333 and {r["label"] for r in body["agent"]} == {
        "Alice", "Bob", "Unassigned"}
    assert client.get(f"/api/v1/reports/sla?{_range()}",
                      headers={"Authorization": f"Bearer {agent_token}"}).status_code == 403
