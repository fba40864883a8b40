"""Phone calls over REST: logged into a new phone conversation or an existing one; bad input stores nothing."""

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.crm.models import Customer
from helpdesk.tickets.email.outbound import SEND_JOB
from helpdesk.tickets.models import Channel, Conversation, Message, PhoneCall
from tests.factories import make_conversation, make_inbox


@pytest.fixture
def api(app: Flask, client: FlaskClient, agent: Agent) -> Any:
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "tests")

    def post(path: str, payload: Any) -> Any:
        return client.post(f"/api/v1{path}", json=payload, headers={"Authorization": f"Bearer {token}"})
    return post


def counts(app: Flask) -> tuple[int, int, int, int]:
    with db_of(app).unit_of_work() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (PhoneCall, Message, Conversation,
                                                                               Customer))  # type: ignore[return-value]


def test_a_call_from_a_new_number_opens_a_phone_conversation(app: Flask, api: Any, agent: Agent) -> None:
    r = api("/calls", {"customer": {"phone": "+49 30 1234567", "name": "Jo Caller"}, "direction": "inbound",
                       "duration_seconds": "4:30", "notes": "Wants to change the delivery address.",
                       "recording_url": "https://calls.example.com/rec/1.mp3"})
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert body["direction"] == "inbound" and body["duration_seconds"] == 270
    assert body["conversation"]["channel"] == "phone" and body["conversation"]["subject"] == "Call from Jo Caller"
    assert body["message"]["private"] is True and body["message"]["call"]["recording_url"].endswith("1.mp3")
    assert body["agent"]["name"] == agent.name and body["phone"] == "+49301234567"
    with db_of(app).unit_of_work() as s:
        conv = s.scalar(select(Conversation).filter_by(public_id=body["conversation"]["id"]))
        assert conv.inbox.channel is Channel.phone and conv.first_response_at is not None
        assert conv.customer.phone == "+49301234567" and conv.customer.name == "Jo Caller"
    # The next call from the same number finds the same customer.
    again = api("/calls", {"customer": {"phone": "+49301234567"}, "direction": "out", "duration_seconds": 60})
    assert again.get_json()["conversation"]["customer"]["id"] == body["conversation"]["customer"]["id"]


def test_a_call_logged_into_an_email_conversation_sends_no_mail(app: Flask, api: Any) -> None:
    inbox, _ = make_inbox(app, "Support mail", "email", "support@shop.example")
    conv = make_conversation(app, inbox)
    r = api("/calls", {"conversation_id": conv.public_id, "direction": "outbound", "duration_seconds": 95,
                       "notes": "Called back about the refund."})
    assert r.status_code == 201
    assert r.get_json()["conversation"]["channel"] == "email"
    with db_of(app).unit_of_work() as s:
        from helpdesk.jobs import Job

        assert s.scalar(select(func.count()).select_from(Job).filter_by(kind=SEND_JOB)) == 0
        call = s.scalar(select(PhoneCall))
        assert call.message.body_text == "Called back about the refund." and call.message.seq == 2


@pytest.mark.parametrize(("payload", "field"), [
    ({"customer": {"phone": "+4930123456"}, "direction": "in", "duration_seconds": -5}, "duration_seconds"),
    ({"customer": {"phone": "+4930123456"}, "direction": "in", "duration_seconds": "abc"}, "duration_seconds"),
    ({"customer": {"phone": "+4930123456"}, "direction": "sideways", "duration_seconds": 5}, "direction"),
    ({"customer": {"phone": "+4930123456"}, "direction": "in", "duration_seconds": 5,
      "recording_url": "javascript:alert(1)"}, "recording_url"),
    ({"customer": {"phone": "+4930123456"}, "direction": "in", "duration_seconds": 5,
      "recording_url": "ftp://files.example.com/x.mp3"}, "recording_url"),
    ({"customer": "cu_doesnotexist", "direction": "in", "duration_seconds": 5}, "customer"),
    ({"conversation_id": "cv_nope", "direction": "in", "duration_seconds": 5}, "conversation_id"),
    ({"customer": {"phone": "not a number"}, "direction": "in", "duration_seconds": 5}, "phone"),
    ({"direction": "in", "duration_seconds": 5}, "customer"),
])
def test_bad_call_input_gets_a_clear_error_and_stores_nothing(app: Flask, api: Any, payload: dict[str, Any],
                                                              field: str) -> None:
    before = counts(app)
    r = api("/calls", payload)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert field in r.get_json()["error"]["message"]
    assert counts(app) == before


def test_a_retried_call_is_logged_once(app: Flask, api: Any) -> None:
    payload = {"customer": {"email": "ann@example.com"}, "direction": "in", "duration_seconds": 30,
               "client_msg_id": "call-1"}
    first, second = api("/calls", payload), api("/calls", payload)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert counts(app)[0] == 1
