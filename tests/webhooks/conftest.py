"""A local receiver on 127.0.0.1 (private targets allowed for it), an admin API client, a worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask

from helpdesk import runtime_of
from helpdesk.accounts.models import Agent
from helpdesk.db import utcnow
from helpdesk.jobs import Worker
from tests.rules.conftest import api_client


class Receiver:
    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.answers: list[tuple[int, dict[str, str], bytes]] = []  # next answers; then 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status, headers, text = receiver.answers.pop(0) if receiver.answers else (200, {}, b"thanks")
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?x=1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver(app: Flask) -> Iterator[Receiver]:
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True  # the receiver listens on 127.0.0.1
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def admin_api(app: Flask, admin: Agent) -> Any:
    return api_client(app.test_client(), app, admin)


def drain(app: Flask, ahead: timedelta = timedelta(0)) -> int:
    runtime = runtime_of(app)
    runtime.clock = lambda: utcnow() + ahead
    return Worker(runtime, lease_seconds=30).run_until_idle(max_jobs=50)
