"""Audit findings 1 and 2: logout, disable, password and role changes end the agent's sessions on
the server: saved cookies stop working and live /console sockets close (one process and two)."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from tests.chat.conftest import Clients, received
from tests.chat.test_live_sockets import Recorder
from tests.conftest import PASSWORD, LiveServer, csrf_token, login, make_agent, start_live_server, stop_live_server
from tests.servers import wait_until

# -- saved cookies --------------------------------------------------------------------------------

def _replay(app: Flask, cookies: dict[str, str]) -> FlaskClient:
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value, domain="localhost")
    return other


def test_a_saved_session_cookie_stops_working_after_logout(app: Flask, client: FlaskClient, agent: Agent) -> None:
    login(client, agent.email)
    saved = {"session": client.get_cookie("session").value}
    assert _replay(app, saved).get("/console").status_code == 200  # the copy works while logged in
    client.post("/logout", data={"csrf_token": csrf_token(client, "/console")})
    assert _replay(app, saved).get("/console").status_code == 302


def test_the_remember_cookie_stops_working_after_logout(app: Flask, client: FlaskClient, agent: Agent) -> None:
    token = csrf_token(client)
    client.post("/login", data={"email": agent.email, "password": PASSWORD, "csrf_token": token, "remember": "1"})
    remember = client.get_cookie("remember_token")
    assert remember is not None
    saved = {"remember_token": remember.value}
    assert _replay(app, saved).get("/console").status_code == 200  # remember alone logs in
    client.post("/logout", data={"csrf_token": csrf_token(client, "/console")})
    assert _replay(app, saved).get("/console").status_code == 302


# -- sockets, in process ----------------------------------------------------------------------------

def _end_session_silently(app: Flask, agent: Agent) -> None:
    """Bump the version in the database without the event: a socket that "missed" the disconnect."""
    with db_of(app).unit_of_work() as s:
        s.execute(update(Agent).where(Agent.id == agent.id).values(session_version=Agent.session_version + 1))


def test_a_socket_that_missed_the_disconnect_cannot_send_and_is_closed(
    app: Flask, client: FlaskClient, agent: Agent, clients: Clients, inbox: Any
) -> None:
    from tests.factories import make_conversation

    conv = make_conversation(app, inbox)
    login(client, agent.email)
    console = clients.console(client)
    assert console.is_connected("/console")
    _end_session_silently(app, agent)
    ack = console.emit("message:send", {"conversation_id": conv.public_id, "client_msg_id": "x", "body": "hi"},
                       namespace="/console", callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "not_logged_in"
    wait_until(lambda: not console.is_connected("/console"), timeout=5, message="the socket to be closed")
    # The closing runs after the ack, in a background task: let it finish before the database goes.
    wait_until(lambda: not [t for t in threading.enumerate() if "_drop" in t.name], timeout=5,
               message="the disconnect to finish")


def test_a_role_change_closes_the_socket_but_keeps_the_login(
    app: Flask, client: FlaskClient, agent: Agent, admin: Agent, clients: Clients
) -> None:
    login(client, agent.email)
    console = clients.console(client)
    admin_http = app.test_client()
    login(admin_http, admin.email)
    admin_http.post(f"/admin/agents/{agent.public_id}",
                    data={"csrf_token": csrf_token(admin_http, "/admin/agents"), "role": "manager"})
    wait_until(lambda: not console.is_connected("/console"), timeout=5, message="the socket to be closed")
    assert client.get("/console").status_code == 200
    again = clients.console(client)  # a new socket carries the new role
    assert again.is_connected("/console") and received(again, "session", "/console")


# -- sockets over a real port ---------------------------------------------------------------------

def _http_login(server: LiveServer, email: str) -> requests.Session:
    http = requests.Session()
    html = http.get(f"{server.url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    answer = http.post(f"{server.url}/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                       allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return http


def _page_token(http: requests.Session, url: str) -> str:
    html = http.get(url, timeout=10).text
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def _cookie(http: requests.Session) -> str:
    return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


def _console(server: LiveServer, http: requests.Session) -> Recorder:
    rec = Recorder()
    rec.client.connect(server.url, namespaces=["/console"], transports=["websocket"],
                       headers={"Cookie": _cookie(http)})
    wait_until(lambda: rec.of("session"), timeout=10, message="the console session")
    return rec


def _end(how: str, server: LiveServer, alice: requests.Session, admin: requests.Session, agent: Agent) -> None:
    if how == "logout":
        token = _page_token(alice, f"{server.url}/console")
        assert alice.post(f"{server.url}/logout", data={"csrf_token": token}, timeout=10).ok
        return
    token = _page_token(admin, f"{server.url}/admin/agents")
    data = {"disable": {"active": "0"}, "password": {"password": "a brand new secret"}}[how]
    answer = admin.post(f"{server.url}/admin/agents/{agent.public_id}", data={"csrf_token": token, **data},
                        allow_redirects=False, timeout=10)
    assert answer.status_code == 303


@pytest.mark.parametrize("how", ["logout", "disable", "password"])
def test_the_live_feed_ends_within_seconds(
    app: Flask, agent: Agent, admin: Agent, inbox: Any, live_server: LiveServer, how: str
) -> None:
    bob = make_agent(app, "bob@example.com", "agent", "Bob")
    alice_http, admin_http, bob_http = (_http_login(live_server, a.email) for a in (agent, admin, bob))
    alice, witness = _console(live_server, alice_http), _console(live_server, bob_http)
    shopper = Recorder()
    try:
        _end(how, live_server, alice_http, admin_http, agent)
        wait_until(lambda: not alice.client.connected, timeout=5, message="alice's socket to be closed")
        shopper.client.connect(live_server.url, namespaces=["/widget"], auth={"site": inbox.site_key},
                               transports=["websocket"])
        wait_until(lambda: shopper.of("session"), timeout=10, message="the widget session")
        ack = shopper.client.call("message:send", {"client_msg_id": "s1", "body": "my card is 4111..."},
                                  namespace="/widget", timeout=10)
        assert ack["ok"]
        wait_until(lambda: witness.of("conversation:new"), timeout=10, message="bob to see the chat")
        assert alice.of("conversation:new") == [] and alice.of("message:new") == []
        # The old cookie opens no new socket either.
        again = Recorder()
        with pytest.raises(Exception):  # noqa: B017 - python-socketio raises ConnectionError
            again.client.connect(live_server.url, namespaces=["/console"], transports=["websocket"],
                                 headers={"Cookie": _cookie(alice_http)}, wait_timeout=5)
    finally:
        for rec in (alice, witness, shopper):
            if rec.client.connected:
                rec.client.disconnect()


def test_over_a_real_port_a_socket_that_missed_the_disconnect_is_refused_and_closed(
    app: Flask, agent: Agent, inbox: Any, live_server: LiveServer
) -> None:
    from tests.factories import make_conversation

    conv = make_conversation(app, inbox)
    alice = _console(live_server, _http_login(live_server, agent.email))
    try:
        _end_session_silently(app, agent)  # straight in the shared database: no event, no disconnect
        ack = alice.client.call("message:send", {"conversation_id": conv.public_id, "client_msg_id": "late",
                                                 "body": "sent after the session ended"},
                                namespace="/console", timeout=10)
        assert ack["ok"] is False and ack["error"]["code"] == "not_logged_in"
        wait_until(lambda: not alice.client.connected, timeout=5, message="the socket to be closed")
    finally:
        if alice.client.connected:
            alice.client.disconnect()


def test_logout_on_one_process_closes_the_socket_on_the_other(
    app: Flask, agent: Agent, database_url: str, tmp_path: Any, redis_server: Any
) -> None:
    env = {"HELPDESK_REDIS_URL": redis_server.url}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    first = start_live_server(tmp_path / "a", database_url, env)
    second = start_live_server(tmp_path / "b", database_url, env)
    try:
        http = _http_login(first, agent.email)
        socket_on_second = _console(second, http)
        token = _page_token(http, f"{first.url}/console")
        assert http.post(f"{first.url}/logout", data={"csrf_token": token}, timeout=10).ok
        wait_until(lambda: not socket_on_second.client.connected, timeout=6,
                   message="the other process to close the socket")
    finally:
        stop_live_server(first)
        stop_live_server(second)
