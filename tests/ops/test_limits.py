"""Body limits, checked before the body is read (PROTOCOL.md, Runtime and operations)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask, Response
from werkzeug.test import EnvironBuilder, run_wsgi_app

from helpdesk import create_app, db_of


@pytest.fixture
def small_app(app_config: dict[str, Any]) -> Any:
    app = create_app({**app_config, "MAX_REQUEST_BYTES": 1000, "EMAIL_MAX_BYTES": 200_000,
                      "CHAT_MAX_ATTACHMENT_BYTES": 100_000})
    yield app
    db_of(app).dispose()


class Untouchable(io.RawIOBase):
    """A body that must not be read at all."""

    def readable(self) -> bool:
        return True

    def readinto(self, _b: Any) -> int:
        raise AssertionError("the body was read")


def _too_large(response: Any) -> None:
    assert response.status_code == 413, response.data[:200]
    assert response.get_json()["error"]["code"] == "too_large"
    assert response.headers["Connection"] == "close"


@pytest.mark.parametrize("path", ["/login", "/api/v1/conversations", "/widget/session", "/inbound/email/raw",
                                  "/widget/attachments", "/no/such/route"])
def test_a_declared_length_over_the_limit_is_refused_unread(small_app: Flask, path: str) -> None:
    environ = EnvironBuilder(path, method="POST", content_type="application/octet-stream").get_environ()
    environ.update({"CONTENT_LENGTH": str(10**9), "wsgi.input": Untouchable()})  # 1 GB declared, nothing sent
    body, status, headers = run_wsgi_app(small_app, environ, buffered=True)
    _too_large(Response(b"".join(body), status=status, headers=headers))


def test_a_body_without_a_length_is_cut_at_the_limit(small_app: Flask) -> None:
    # A chunked body reaches the app as a stream of unknown length: reading stops past the limit.
    environ = {"wsgi.input_terminated": True}
    stream = io.BytesIO(b'{"x": "' + b"a" * 5000 + b'"}')
    response = small_app.test_client().post("/api/v1/conversations", input_stream=stream,
                                            content_type="application/json", environ_overrides=environ,
                                            headers={"Transfer-Encoding": "chunked"})
    _too_large(response)
    assert stream.tell() <= 1001 + 8192  # never much more than the limit was pulled


def test_routes_have_their_own_limits(small_app: Flask) -> None:
    client = small_app.test_client()
    mail = b"From: a@example.com\r\nTo: help@shop.example\r\nSubject: hi\r\n\r\n" + b"x" * 50_000
    # 50 kB is over the 1000-byte default but within the email limit: it reaches the view (401: no token)
    assert client.post("/inbound/email/raw", data=mail, content_type="message/rfc822").status_code == 401
    assert client.post("/api/v1/conversations", data=b"x" * 1500,
                       content_type="application/json").status_code == 413
    # within the limit: the route answers as before
    assert client.post("/api/v1/conversations", data=b"{}", content_type="application/json").status_code == 401


def test_defaults_follow_the_protocol(app: Flask) -> None:
    from helpdesk.limits import MULTIPART_OVERHEAD, limit_for

    assert limit_for("/api/v1/conversations", app.config) == 1024 * 1024
    assert limit_for("/inbound/email/mailgun", app.config) == 2 * app.config["EMAIL_MAX_BYTES"] + 2**20
    assert limit_for("/widget/attachments", app.config) == \
        app.config["CHAT_MAX_ATTACHMENT_BYTES"] + MULTIPART_OVERHEAD
