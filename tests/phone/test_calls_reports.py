"""The phone channel counts in reports like chat and email: grouped by channel and as a filter."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.actors import agent_actor
from helpdesk.crm import services as crm
from helpdesk.reports.figures import summary
from helpdesk.reports.ranges import Filters, parse_period, timezone
from helpdesk.tickets import calls
from tests.conftest import login
from tests.factories import make_conversation, make_inbox


def test_calls_count_per_channel_and_under_the_phone_filter(app: Flask, session: Session, agent: Agent,
                                                            manager: Agent, client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    make_conversation(app, inbox)
    actor = agent_actor(session.get(Agent, agent.id))
    for number in ("+4930111111", "+4930222222"):
        customer = crm.identify(session, actor, phone=number)
        calls.log_call(session, actor, calls.check_call(direction="in", duration_seconds=60), customer=customer)
    session.commit()
    today = datetime.now(UTC).date().isoformat()
    period = parse_period({"from": today, "to": today}, timezone("UTC"))
    by_channel = {g["key"]: g for g in summary(session, period, group_by="channel")["groups"]}
    assert by_channel["phone"]["conversations_created"] == 2 and by_channel["chat"]["conversations_created"] == 1
    phone = summary(session, period, Filters(channel="phone"))["totals"]
    assert (phone["conversations_created"], phone["first_responses"]) == (2, 2)
    session.rollback()  # the page's own writes (login) must not wait on this test's transaction
    login(client, manager.email)
    page = client.get(f"/reports?from={today}&to={today}&channel=phone")
    assert page.status_code == 200 and '<option value="phone" selected>' in page.get_data(as_text=True)
