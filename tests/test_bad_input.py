"""Issue 12 finding 15: inputs that used to end in a 500 with a traceback answer 4xx with the one
error shape (or a socket error ack) and change nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.actors import SYSTEM
from helpdesk.extensions import socketio
from helpdesk.tickets.email.models import InboundMail
from tests.conftest import login
from tests.factories import make_conversation, make_inbox

HUGE = 2**64 + 1


def token_of(app: Flask, agent: Any) -> str:
    with db_of(app).unit_of_work() as s:
        return accounts.create_api_token(s, SYSTEM, s.merge(agent), "bad-input")


def error_of(response: Any, status: int | None = None) -> dict[str, Any]:
    """The one error shape with a 4xx (a given one, or 400/422: malformed or invalid)."""
    expected = {status} if status else {400, 422}
    assert response.status_code in expected, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body["error"]) == {"code", "message"} and "Traceback" not in response.get_data(as_text=True)
    return body["error"]


def b64(data: Any, pad: bool = True) -> str:
    text = base64.urlsafe_b64encode(data.encode() if isinstance(data, str) else json.dumps(data).encode()).decode()
    return text if pad else text.rstrip("=")


def test_rest_cursors_and_after_seq_beyond_64_bits_are_400(app: Flask, client: FlaskClient, manager: Any) -> None:
    inbox, _ = make_inbox(app, "Mail", "email", address="help@shop.example")
    conversation = make_conversation(app, inbox)
    auth = {"Authorization": f"Bearer {token_of(app, manager)}"}
    for path in (f"/api/v1/conversations/{conversation.public_id}/messages?after_seq={HUGE}",
                 f"/api/v1/conversations/{conversation.public_id}/messages?cursor={-HUGE}",
                 f"/api/v1/conversations?cursor={b64(['2026-01-01T00:00:00+00:00', HUGE], pad=False)}",
                 f"/api/v1/customers?cursor={HUGE}",
                 f"/api/v1/orders?cursor={b64(f'2026-01-01T00:00:00+00:00|{HUGE}')}"):
        assert error_of(client.get(path, headers=auth))["code"] == "invalid_cursor", path
    ok = client.get(f"/api/v1/conversations/{conversation.public_id}/messages?after_seq=0", headers=auth)
    assert ok.status_code == 200


def test_console_pages_ignore_an_oversized_after(app: Flask, client: FlaskClient, agent: Any) -> None:
    login(client, agent.email)
    assert client.get(f"/console/customers?after={HUGE}").status_code == 200


def test_sockets_refuse_an_after_seq_beyond_64_bits(app: Flask, agent: Any) -> None:
    _inbox, site = make_inbox(app, "Chat", "chat")
    widget = socketio.test_client(app, namespace="/widget", auth={"site": site})
    sent = widget.emit("message:send", {"client_msg_id": "1", "body": "hi"}, namespace="/widget", callback=True)
    conversation_id = sent["message"]["conversation_id"]
    answer = widget.emit("history", {"conversation_id": conversation_id, "after_seq": HUGE}, namespace="/widget",
                         callback=True)
    assert answer["ok"] is False and answer["error"]["code"] == "invalid_after_seq"
    http = app.test_client()
    login(http, agent.email)
    console = socketio.test_client(app, namespace="/console", flask_test_client=http)
    for event in ("history", "subscribe"):
        answer = console.emit(event, {"conversation_id": conversation_id, "after_seq": HUGE}, namespace="/console",
                              callback=True)
        assert answer["ok"] is False and answer["error"]["code"] == "invalid_after_seq", event
    widget.disconnect(namespace="/widget")
    console.disconnect(namespace="/console")


@pytest.mark.parametrize("tz", ["A" * 300, "Europe/" + "x" * 250, "../../../../etc/passwd"])
def test_a_long_or_odd_time_zone_is_400(app: Flask, client: FlaskClient, manager: Any, tz: str) -> None:
    auth = {"Authorization": f"Bearer {token_of(app, manager)}"}
    answer = client.get("/api/v1/reports/summary", query_string={"tz": tz}, headers=auth)
    assert error_of(answer)["code"] == "invalid_timezone"


def test_deeply_nested_json_is_refused_before_it_is_parsed(app: Flask, client: FlaskClient, manager: Any) -> None:
    make_inbox(app, "Chat", "chat")
    deep = "[" * 2000 + "]" * 2000
    assert error_of(client.post("/widget/orders/lookup", data=deep, content_type="application/json"))
    huge = "[" * 20_000 + "]" * 20_000
    assert error_of(client.post("/widget/orders/lookup", data=huge, content_type="application/json"), 413)
    auth = {"Authorization": f"Bearer {token_of(app, manager)}"}
    nested = '{"subject": ' + "[" * 20_000 + "]" * 20_000 + "}"
    assert error_of(client.post("/api/v1/conversations", data=nested, content_type="application/json",
                                headers=auth))


def test_postmark_raw_email_that_is_not_base64_is_400_and_stores_nothing(app: Flask, client: FlaskClient) -> None:
    _inbox, token = make_inbox(app, "Mail", "email", address="help@shop.example")
    answer = client.post("/inbound/email/postmark", json={"RawEmail": "not*base64!", "RawEmailEncoding": "base64"},
                         headers={"Authorization": f"Bearer {token}"})
    assert error_of(answer)["code"] == "invalid_base64"
    with db_of(app).sessions() as s:
        assert s.query(InboundMail).count() == 0
