"""The rule action `webhook`: a signed POST from the worker; private targets refused unless allowed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of, runtime_of
from helpdesk.jobs import Job, JobState, Worker
from helpdesk.tickets.rules import webhook
from tests.factories import make_conversation, make_inbox
from tests.rules.test_rules import rule


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"headers": dict(self.headers), "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_port}/hook", got
    server.shutdown()
    server.server_close()


def test_signed_post_when_private_targets_are_allowed(app: Flask, admin_api: Any,
                                                      receiver: tuple[str, list[dict[str, Any]]]) -> None:
    url, got = receiver
    app.config["WEBHOOK_ALLOW_PRIVATE"] = "1"
    rule(admin_api, name="Hook", actions=[{"type": "webhook", "value": url}])
    conv = make_conversation(app, make_inbox(app)[0])
    Worker(runtime_of(app), lease_seconds=30).run_until_idle(max_jobs=50)
    assert len(got) == 1
    headers, body = got[0]["headers"], got[0]["body"]
    assert json.loads(body)["data"]["conversation_id"] == conv.public_id
    secret = webhook.secret_of(app.config)
    expected = "sha256=" + hmac.new(secret.encode(), headers["X-Helpdesk-Timestamp"].encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
    assert headers["X-Helpdesk-Signature"] == expected and headers["X-Helpdesk-Event"] == "conversation.created"


def test_a_name_resolving_to_loopback_is_refused_at_delivery(app: Flask, admin_api: Any,
                                                             receiver: tuple[str, list[dict[str, Any]]]) -> None:
    url, got = receiver  # localhost is refused at save time; a name that resolves there only now
    app.config["WEBHOOK_ALLOW_PRIVATE"] = "1"
    rule(admin_api, name="Hook", actions=[{"type": "webhook", "value": url}])
    app.config["WEBHOOK_ALLOW_PRIVATE"] = ""
    make_conversation(app, make_inbox(app)[0])
    Worker(runtime_of(app), lease_seconds=30).run_until_idle(max_jobs=50)
    assert got == []
    with db_of(app).unit_of_work() as s:
        job = s.scalar(select(Job).filter_by(kind=webhook.JOB))
        assert job.state is JobState.dead and "private address" in (job.last_error or "")
