"""Issue 12 finding 16: an ingest token given as ?token= never reaches a log line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from tests.conftest import LiveServer, start_live_server, stop_live_server
from tests.factories import make_inbox


@pytest.fixture
def logging_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """Access lines are off by default (they bury the banner); this test needs them on."""
    server = start_live_server(tmp_path, database_url, env={"HELPDESK_ACCESS_LOG": "1"})
    yield server
    stop_live_server(server)


def test_the_ingest_token_in_the_query_string_is_not_logged(app: Flask, logging_server: LiveServer) -> None:
    live_server = logging_server
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
