"""Request body limits, enforced before the body is read.

A WSGI middleware (outside Flask, Socket.IO and every view) refuses a declared Content-Length over
the route's limit with 413 at once, and caps what a chunked or lying body can make anyone read:
the stream itself raises past the limit. So a 1 GiB POST to any route costs at most one limit's
worth of reading and no memory beyond it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.exceptions import RequestEntityTooLarge

# Multipart boundaries, part headers and the form fields around an uploaded file.
MULTIPART_OVERHEAD = 64 * 1024
_API_MESSAGES = re.compile(r"^/api/v1/conversations/[^/]+/messages$")
_CONSOLE_FILES = re.compile(r"^/console/(c/[^/]+/reply|compose)$")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def email_ceiling(config: Any) -> int:
    return 2 * int(config.get("EMAIL_MAX_BYTES") or 25 * 2**20) + 2**20


def limit_for(path: str, config: Any) -> int:
    """The most bytes a request to `path` may carry (PROTOCOL.md, Runtime and operations)."""
    if path.startswith("/inbound/email/"):
        # Up to twice EMAIL_MAX_BYTES a mail still arrives, to be kept for an admin and refused
        # as mail_too_large (helpdesk/tickets/email/webhooks.py); beyond that it is not read.
        return email_ceiling(config)
    if path == "/widget/attachments":
        return int(config["CHAT_MAX_ATTACHMENT_BYTES"]) + MULTIPART_OVERHEAD
    if _API_MESSAGES.match(path) or _CONSOLE_FILES.match(path):  # replies may carry files (multipart)
        return int(config["MAX_UPLOAD_BYTES"]) + MULTIPART_OVERHEAD
    if path.startswith("/socket.io"):  # Engine.IO checks its own max_http_buffer_size as well
        return int(config["MAX_UPLOAD_BYTES"]) + MULTIPART_OVERHEAD
    return int(config["MAX_REQUEST_BYTES"])


def _too_large_message(limit: int) -> str:
    return f"the request body is larger than this route accepts ({limit} bytes)"


def _stop_discarding(raw: Any) -> None:
    """gevent's server reads what is left of a body after the response, to reuse the connection:
    for a refused 1 GiB body that would mean reading it all. We close the connection instead."""
    if hasattr(raw, "_chunked_input_error"):
        raw._chunked_input_error = True


class CappedInput:
    """wsgi.input that raises 413 instead of returning more than `limit` bytes."""

    def __init__(self, raw: Any, limit: int) -> None:
        self.raw = raw
        self.limit = limit
        self.seen = 0

    def _count(self, data: bytes) -> bytes:
        self.seen += len(data)
        if self.seen > self.limit:
            _stop_discarding(self.raw)
            raise RequestEntityTooLarge(_too_large_message(self.limit))
        return data

    def _room(self, size: int | None) -> int:
        # Never ask for more than one byte past the limit: that byte proves the body too large.
        left = self.limit + 1 - self.seen
        return left if size is None or size < 0 else min(size, left)

    def read(self, size: int | None = -1) -> bytes:
        return self._count(self.raw.read(self._room(size)))

    def readline(self, size: int | None = -1) -> bytes:
        return self._count(self.raw.readline(self._room(size)))

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> CappedInput:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class BodyLimit:
    def __init__(self, app: WSGIApp, config: Any) -> None:
        self.app = app
        self.config = config

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_UPGRADE"):  # a WebSocket: frames, not a body
            return self.app(environ, start_response)
        limit = limit_for(environ.get("PATH_INFO", ""), self.config)
        try:
            declared = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # the server answers a malformed length itself
        raw = environ.get("wsgi.input")
        if declared > limit:
            _stop_discarding(raw)
            body = json.dumps({"error": {"code": "too_large", "message": _too_large_message(limit)}}).encode()
            start_response("413 Request Entity Too Large", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                ("Connection", "close")])
            return [body]
        if raw is not None:
            environ["wsgi.input"] = CappedInput(raw, limit)
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            # The server would read whatever a view left unread, chunk by chunk without end, to
            # keep the connection: we close it after the response instead.
            _stop_discarding(raw)

            def closing_start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
                headers = [(k, v) for k, v in headers if k.lower() != "connection"]
                return start_response(status, [*headers, ("Connection", "close")], *exc)

            return self.app(environ, closing_start_response)
        return self.app(environ, start_response)


def init_app(app: Flask) -> None:
    from helpdesk.web import error_response

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Any:
        body, status = error_response(413, "too_large", exc.description or "the request body is too large")
        return body, status, {"Connection": "close"}

    app.wsgi_app = BodyLimit(app.wsgi_app, app.config)  # type: ignore[method-assign]
