"""Chat fixtures: a chat inbox and Socket.IO test clients for /widget and /console."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient

from helpdesk import db_of
from helpdesk.chat import relay
from helpdesk.extensions import socketio
from helpdesk.tickets.models import Inbox
from tests.conftest import login
from tests.factories import make_inbox


@pytest.fixture
def inbox(app: Flask) -> Inbox:
    made, _site_key = make_inbox(app, "Web chat", "chat")
    return made


@pytest.fixture
def site(inbox: Inbox) -> str:
    assert inbox.site_key
    return inbox.site_key


class Clients:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.made: list[SocketIOTestClient] = []

    def widget(self, auth: dict[str, Any] | None) -> SocketIOTestClient:
        client = socketio.test_client(self.app, namespace="/widget", auth=auth)
        self.made.append(client)
        return client

    def console(
        self, http: FlaskClient | None = None, headers: dict[str, str] | None = None
    ) -> SocketIOTestClient:
        client = socketio.test_client(self.app, namespace="/console", flask_test_client=http, headers=headers)
        self.made.append(client)
        return client

    def close(self) -> None:
        for client in self.made:
            for ns in ("/widget", "/console"):
                if client.is_connected(ns):
                    client.disconnect(ns)


@pytest.fixture
def clients(app: Flask) -> Iterator[Clients]:
    relay.ROWS.clear()  # the consoles' rows a tick holds are per process: none of an earlier test
    made = Clients(app)
    yield made
    made.close()
    relay.ROWS.clear()


def received(client: SocketIOTestClient, name: str, namespace: str) -> list[Any]:
    return [packet["args"][0] for packet in client.get_received(namespace) if packet["name"] == name]


def session_of(client: SocketIOTestClient) -> dict[str, Any]:
    sessions = received(client, "session", "/widget")
    assert sessions, "no session event"
    return sessions[-1]


@pytest.fixture
def logged_in(app: Flask) -> Callable[[str], FlaskClient]:
    def make(email: str) -> FlaskClient:
        http = app.test_client()
        assert login(http, email).status_code == 302
        return http

    return make


def db(app: Flask) -> Any:
    return db_of(app)
