"""Socket-level tuning for the chat's WebSockets under gevent."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSessionInterface, SessionMixin

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class NoDelay:
    """Turn off Nagle's algorithm on WebSocket connections.

    A send is answered by two small frames back to back (the `message:new` broadcast, then the ack).
    With Nagle on, the second waits for the client's delayed ACK: measured on `helpdesk run`, the
    median send -> ack went from 50 ms to 8 ms with TCP_NODELAY (bench/chat_roundtrip.py)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        ws = environ.get("wsgi.websocket")
        sock = getattr(getattr(ws, "handler", None), "socket", None)
        if sock is not None:
            # Not TCP (a Unix socket behind a proxy): nothing to tune.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.app(environ, start_response)


class SocketSessions(SecureCookieSessionInterface):
    """Cookie sessions, except that a Socket.IO event reuses the session its connection opened.

    Flask-SocketIO keeps that session in the connection's environ and puts it in place of whatever
    Flask opened, yet Flask opens (verifies and decodes) the cookie again for every event first:
    about 2 % of a chat message's CPU under load, for an object thrown away at once."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        saved = request.environ.get("saved_session")
        if isinstance(saved, SessionMixin):
            return saved
        return super().open_session(app, request)
