"""Issue 12 finding 16: an ingest token given as ?token= never reaches a log line."""

from __future__ import annotations

import requests
from flask import Flask

from tests.conftest import LiveServer
from tests.factories import make_inbox


def test_the_ingest_token_in_the_query_string_is_not_logged(app: Flask, live_server: LiveServer) -> None:
    _inbox, token = make_inbox(app, name="Query mail", channel="email", address="query@shop.example")
    raw = b"From: ann@example.com\r\nTo: query@shop.example\r\nSubject: hi\r\n\r\nhello\r\n"
    ok = requests.post(f"{live_server.url}/inbound/email/raw?token={token}", data=raw, timeout=10,
                       headers={"Content-Type": "message/rfc822"})
    assert ok.status_code == 202, ok.text
    wrong = requests.post(f"{live_server.url}/inbound/email/raw?token={token}x", data=raw, timeout=10)
    assert wrong.status_code == 401
    sendgrid = requests.post(f"{live_server.url}/inbound/email/sendgrid?token={token}&x=1", data={"email": ""},
                             timeout=10)
    assert sendgrid.status_code == 422
    log = live_server.output()
    assert "/inbound/email/raw" in log  # the requests are logged ...
    assert token not in log  # ... without the token
