"""Logging calls from the console: "New call" opens a phone conversation, "Log call" adds a call card."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.tickets.models import Channel, Conversation, PhoneCall
from tests.conftest import csrf_token
from tests.factories import make_conversation, make_inbox


def test_new_call_for_a_found_customer_opens_a_phone_conversation(app: Flask, agent_client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    make_conversation(app, inbox, email="ann@example.com", name="Ann Archer")
    page = agent_client.get("/console/calls/new?q=ann").get_data(as_text=True)
    customer = re.search(r'name="customer" value="(cu_[\w-]+)"', page).group(1)
    token = csrf_token(agent_client, "/console/calls/new")
    r = agent_client.post("/console/calls", data={"csrf_token": token, "customer": customer, "direction": "outbound",
                                                  "duration": "12:05", "notes": "Explained the return policy."})
    assert r.status_code == 303
    html = agent_client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Outgoing call" in html and "12:05" in html and "Explained the return policy." in html
    assert 'class="call-card call-outbound"' in html
    with db_of(app).unit_of_work() as s:
        conv = s.scalar(select(Conversation).filter_by(channel=Channel.phone))
        assert conv.customer.email == "ann@example.com" and conv.subject == "Call to Ann Archer"
    # The phone inbox shows in the queue's inbox filter with its own icon.
    assert 'aria-label="phone"' in agent_client.get("/console?view=all").get_data(as_text=True)


def test_log_call_on_a_chat_conversation_and_bad_link_refused(app: Flask, agent_client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    token = csrf_token(agent_client, f"/console/c/{conv.public_id}")
    bad = agent_client.post(f"/console/c/{conv.public_id}/calls", data={
        "csrf_token": token, "direction": "inbound", "duration": "3:00", "recording_url": "javascript:alert(1)"},
        follow_redirects=True).get_data(as_text=True)
    assert "recording_url" in bad and "an http or https link" in bad
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(PhoneCall)) == 0
    page = agent_client.post(f"/console/c/{conv.public_id}/calls", data={
        "csrf_token": token, "direction": "inbound", "duration": "95", "notes": "Asked about sizes",
        "recording_url": "https://pbx.example.com/r/9"}, follow_redirects=True).get_data(as_text=True)
    assert "Incoming call" in page and "1:35" in page and 'href="https://pbx.example.com/r/9"' in page
    assert 'id="log-call"' in page


def test_new_call_without_a_caller_is_refused_and_stores_nothing(app: Flask, agent_client: FlaskClient) -> None:
    token = csrf_token(agent_client, "/console/calls/new")
    r = agent_client.post("/console/calls", data={"csrf_token": token, "direction": "inbound", "duration": "-1:00",
                                                  "phone": "+49 30 999999"})
    assert r.status_code == 422 and "duration_seconds" in r.get_data(as_text=True)
    r = agent_client.post("/console/calls", data={"csrf_token": token, "direction": "inbound", "duration": "1:00"})
    assert r.status_code == 422
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == 0
