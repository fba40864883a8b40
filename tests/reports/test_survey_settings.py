"""Per-inbox survey settings, edited by admins on /reports/surveys."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.tickets import csat
from helpdesk.tickets.models import Inbox
from tests.conftest import csrf_token, login
from tests.factories import make_inbox


def test_an_admin_turns_surveys_off_and_sets_delay_and_wording(app: Flask, admin_client: FlaskClient,
                                                                session: Session) -> None:
    inbox, _ = make_inbox(app)
    page = admin_client.get("/reports/surveys")
    assert page.status_code == 200 and inbox.public_id in page.get_data(as_text=True)
    response = admin_client.post("/reports/surveys", data={
        "csrf_token": csrf_token(admin_client, "/reports/surveys"), "inbox": inbox.public_id,
        "delay_minutes": "45", "question": "Did we solve it?"})  # the box unticked: off
    assert response.status_code == 302
    settings = csat.inbox_settings(session.get(Inbox, inbox.id))
    assert (settings.enabled, settings.delay_minutes, settings.question) == (False, 45, "Did we solve it?")


def test_a_bad_delay_is_refused_and_changes_nothing(app: Flask, admin_client: FlaskClient,
                                                    session: Session) -> None:
    inbox, _ = make_inbox(app)
    admin_client.post("/reports/surveys", data={
        "csrf_token": csrf_token(admin_client, "/reports/surveys"), "inbox": inbox.public_id,
        "enabled": "on", "delay_minutes": "-5", "question": "x"}, follow_redirects=True)
    assert csat.inbox_settings(session.get(Inbox, inbox.id)) == csat.CsatSettings()


def test_managers_and_agents_cannot_change_survey_settings(client: FlaskClient, manager: Agent) -> None:
    login(client, manager.email)
    assert client.get("/reports/surveys").status_code == 403
