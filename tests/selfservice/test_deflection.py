"""Deflection in the reports: what the widget settled without an agent next to the conversations
that needed one, on the dashboard, in the REST API and its CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.actors import agent_actor
from helpdesk.orders.models import Order
from helpdesk.reports.deflection import deflection
from helpdesk.reports.ranges import parse_period, timezone
from helpdesk.selfservice.models import Kind, SelfServiceRequest, Status
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation
from tests.conftest import login
from tests.factories import make_conversation, make_inbox
from tests.reports.test_export_and_api import token_for
from tests.selfservice.conftest import shipped_order

DAY1 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
RANGE = "from=2026-11-10&to=2026-11-11&tz=UTC"


def build(app: Flask, agent: Agent) -> None:
    """Day 1: a tracking lookup (asked twice, stored once), an order lookup, a return done with no
    agent message. Day 2: a cancel done after the agent wrote (not deflected), a conversation the
    agent answered, one nobody answered. And a tracking lookup before the period."""
    shipped_order(app)
    inbox, _ = make_inbox(app, "Chat", "chat")
    answered = make_conversation(app, inbox, "cid@example.com")
    silent = make_conversation(app, inbox, "dan@example.com")
    returned = make_conversation(app, inbox, "ann@example.com")
    talked = make_conversation(app, inbox, "eve@example.com")
    with db_of(app).unit_of_work() as s:
        order = s.scalar(select(Order))
        agent = s.merge(agent)
        for conv, day in ((answered, DAY2), (silent, DAY2), (returned, DAY1), (talked, DAY2)):
            s.get(Conversation, conv.id).created_at = day
        for conv in (answered, talked):
            tickets.post_message(s, agent_actor(agent), s.get(Conversation, conv.id), body="On it")
        s.add_all([
            SelfServiceRequest(kind=Kind.track, status=Status.done, order_id=order.id, created_at=DAY1),
            SelfServiceRequest(kind=Kind.lookup, status=Status.done, order_id=order.id, created_at=DAY1),
            SelfServiceRequest(kind=Kind.return_, status=Status.done, order_id=order.id, conversation_id=returned.id,
                               created_at=DAY1, handled_at=DAY1 + timedelta(hours=1)),
            SelfServiceRequest(kind=Kind.cancel, status=Status.done, order_id=order.id, conversation_id=talked.id,
                               created_at=DAY2 - timedelta(days=1, hours=1), handled_at=datetime.now(UTC)),
            SelfServiceRequest(kind=Kind.return_, status=Status.requested, order_id=order.id, created_at=DAY2),
            SelfServiceRequest(kind=Kind.track, status=Status.done, order_id=order.id,
                               created_at=DAY1 - timedelta(days=3)),
        ])
        # The agent's "On it" was written now, inside the cancel's window (created..handled).


def test_deflection_counts_what_was_settled_without_an_agent(app: Flask, agent: Agent) -> None:
    build(app, agent)
    period = parse_period({"from": "2026-11-10", "to": "2026-11-11"}, timezone("UTC"))
    with db_of(app).sessions() as s:
        figures = deflection(s, period)
    assert {k: figures[k] for k in ("order_lookups", "tracking_lookups", "requests_completed", "needed_agent",
                                    "handled_without_agent")} == {
        "order_lookups": 1, "tracking_lookups": 1, "requests_completed": 1, "needed_agent": 2,
        "handled_without_agent": 3}
    assert figures["deflection_rate"] == 3 / 5
    assert figures["days"] == [{"day": "2026-11-10", "handled_without_agent": 3, "needed_agent": 0},
                               {"day": "2026-11-11", "handled_without_agent": 0, "needed_agent": 2}]


def test_dashboard_api_and_csv_show_deflection(app: Flask, client: FlaskClient, agent: Agent,
                                               manager: Agent) -> None:
    build(app, agent)
    login(client, manager.email)
    html = client.get(f"/reports?{RANGE}").get_data(as_text=True)
    assert 'data-kpi="deflection_rate">60%' in html and 'data-kpi="needed_agent">2' in html
    assert "1 tracking · 1 order lookups · 1 requests" in html and 'id="deflection-chart"' in html
    assert '"deflection": {"needed": [0, 2], "without": [3, 0]}' in html
    headers = token_for(app, manager)
    api = client.get(f"/api/v1/reports/deflection?{RANGE}", headers=headers)
    assert api.status_code == 200 and api.get_json()["handled_without_agent"] == 3
    csv = client.get(f"/api/v1/reports/deflection.csv?{RANGE}", headers=headers).get_data(as_text=True)
    assert csv.splitlines() == ["day,handled_without_agent,needed_agent", "2026-11-10,3,0", "2026-11-11,0,2"]
    assert client.get(f"/api/v1/reports/deflection?{RANGE}", headers=token_for(app, agent)).status_code == 403
