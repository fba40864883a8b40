"""Sockets over a real port: `helpdesk run` (gevent) in a subprocess, python-socketio clients."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests
import socketio
from flask import Flask

from tests.chat.conftest import Clients  # noqa: F401  (fixtures module import keeps autouse presence reset)
from tests.conftest import PASSWORD, LiveServer
from tests.servers import wait_until


class Recorder:
    """A python-socketio client that keeps every event it receives."""

    def __init__(self) -> None:
        self.client = socketio.Client(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.client.on(
            "*",
            lambda event, _ns, *args: self.events.append((event, args[0] if args else None)),
            namespace="*",
        )

    def of(self, name: str) -> list[Any]:
        return [data for event, data in self.events if event == name]


def login_cookie(server: LiveServer, email: str) -> str:
    http = requests.Session()
    html = http.get(f"{server.url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    answer = http.post(
        f"{server.url}/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


@pytest.fixture
def widget_site(app: Flask, inbox: Any) -> str:
    return inbox.site_key


def test_message_crosses_from_widget_to_console_over_a_real_port(
    app: Flask, agent: Any, widget_site: str, live_server: LiveServer
) -> None:
    console = Recorder()
    console.client.connect(
        live_server.url,
        namespaces=["/console"],
        transports=["websocket"],
        headers={"Cookie": login_cookie(live_server, agent.email)},
    )
    shopper = Recorder()
    shopper.client.connect(
        live_server.url,
        namespaces=["/widget"],
        auth={"site": widget_site, "token": None},
        transports=["websocket"],
    )
    try:
        wait_until(lambda: shopper.of("session"), timeout=10, message="the widget session")
        assert shopper.of("session")[0]["online"] is True
        ack = shopper.client.call(
            "message:send",
            {"client_msg_id": "live-1", "body": "over the wire"},
            namespace="/widget",
            timeout=10,
        )
        assert ack["ok"] is True
        conv_id = ack["message"]["conversation_id"]
        wait_until(lambda: console.of("conversation:new"), timeout=10, message="conversation:new")
        assert console.of("conversation:new")[0]["id"] == conv_id
        sub = console.client.call("subscribe", {"conversation_id": conv_id}, namespace="/console", timeout=10)
        assert [m["body"] for m in sub["messages"]] == ["over the wire"]
        for n in range(3):
            reply = console.client.call(
                "message:send",
                {"conversation_id": conv_id, "client_msg_id": f"r{n}", "body": f"answer {n}"},
                namespace="/console",
                timeout=10,
            )
            assert reply["ok"]
        wait_until(
            lambda: len(shopper.of("message:new")) >= 3, timeout=10, message="the answers in the widget"
        )
        # The shopper's own message came back in its ack, not again as message:new.
        assert [m["body"] for m in shopper.of("message:new")] == ["answer 0", "answer 1", "answer 2"]
        seqs = [m["seq"] for m in shopper.of("message:new")]
        assert seqs == sorted(set(seqs)) == [2, 3, 4]
    finally:
        shopper.client.disconnect()
        console.client.disconnect()


def test_widget_resumes_after_a_disconnect_with_history_after_its_last_seq(
    app: Flask, agent: Any, widget_site: str, live_server: LiveServer
) -> None:
    shopper = Recorder()
    shopper.client.connect(
        live_server.url, namespaces=["/widget"], auth={"site": widget_site}, transports=["websocket"]
    )
    wait_until(lambda: shopper.of("session"), timeout=10, message="the widget session")
    token = shopper.of("session")[0]["token"]
    conv_id = shopper.client.call(
        "message:send", {"client_msg_id": "a", "body": "before"}, namespace="/widget", timeout=10
    )["message"]["conversation_id"]
    shopper.client.disconnect()

    console = Recorder()
    console.client.connect(
        live_server.url,
        namespaces=["/console"],
        transports=["websocket"],
        headers={"Cookie": login_cookie(live_server, agent.email)},
    )
    for n in range(3):
        console.client.call(
            "message:send",
            {"conversation_id": conv_id, "client_msg_id": f"off{n}", "body": f"while away {n}"},
            namespace="/console",
            timeout=10,
        )
    console.client.disconnect()

    back = Recorder()
    back.client.connect(
        live_server.url,
        namespaces=["/widget"],
        auth={"site": widget_site, "token": token},
        transports=["websocket"],
    )
    try:
        wait_until(lambda: back.of("session"), timeout=10, message="the resumed session")
        session = back.of("session")[0]
        assert session["conversation"]["id"] == conv_id and session["conversation"]["last_seq"] == 4
        missed = back.client.call(
            "history", {"conversation_id": conv_id, "after_seq": 1}, namespace="/widget", timeout=10
        )
        assert missed.get("ok"), missed
        assert [m["body"] for m in missed["messages"]] == ["while away 0", "while away 1", "while away 2"]
    finally:
        back.client.disconnect()


def polling_connect(server: LiveServer, namespace: str, headers: dict[str, str]) -> str:
    """Open an Engine.IO polling session by hand and ask for a namespace; returns the server's answer.
    By hand because a browser's Origin is exactly what we send here, nothing added."""
    http = requests.Session()
    base = f"{server.url}/socket.io/?EIO=4&transport=polling"
    opened = http.get(base, headers=headers, timeout=10).text
    sid = json.loads(opened[opened.index("{") :])["sid"]
    http.post(f"{base}&sid={sid}", data=f"40{namespace},", headers=headers, timeout=10)
    return http.get(f"{base}&sid={sid}", headers=headers, timeout=10).text


def test_console_from_a_foreign_origin_is_refused_over_a_real_port(
    app: Flask, agent: Any, live_server: LiveServer
) -> None:
    cookie = login_cookie(live_server, agent.email)
    foreign = polling_connect(live_server, "/console", {"Cookie": cookie, "Origin": "https://evil.example"})
    assert foreign.startswith("44/console,") and '"code": "foreign_origin"' in foreign.replace('":"', '": "')
    anonymous = polling_connect(live_server, "/console", {"Origin": live_server.url})
    assert anonymous.startswith("44/console,") and "not_logged_in" in anonymous
    own = polling_connect(live_server, "/console", {"Cookie": cookie, "Origin": live_server.url})
    assert "40/console," in own and "44/console," not in own


def test_message_crosses_between_two_app_processes_through_redis(
    app: Flask, agent: Any, widget_site: str, database_url: str, tmp_path: Any, redis_server: Any
) -> None:
    """Two `helpdesk run` processes share the database and Redis: a shopper on one, an agent on the other."""
    from tests.conftest import start_live_server, stop_live_server

    env = {"HELPDESK_REDIS_URL": redis_server.url}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    first = start_live_server(tmp_path / "a", database_url, env)
    second = start_live_server(tmp_path / "b", database_url, env)
    shopper, console = Recorder(), Recorder()
    try:
        console.client.connect(
            second.url,
            namespaces=["/console"],
            transports=["websocket"],
            headers={"Cookie": login_cookie(second, agent.email)},
        )
        shopper.client.connect(
            first.url, namespaces=["/widget"], auth={"site": widget_site}, transports=["websocket"]
        )
        wait_until(lambda: shopper.of("session"), timeout=10, message="the widget session")
        ack = shopper.client.call(
            "message:send", {"client_msg_id": "x-1", "body": "via redis"}, namespace="/widget", timeout=10
        )
        wait_until(
            lambda: console.of("conversation:new"), timeout=10, message="the other process to hear of it"
        )
        conv_id = console.of("conversation:new")[0]["id"]
        assert conv_id == ack["message"]["conversation_id"]
        console.client.call(
            "message:send",
            {"conversation_id": conv_id, "client_msg_id": "y-1", "body": "back"},
            namespace="/console",
            timeout=10,
        )
        wait_until(
            lambda: [m for m in shopper.of("message:new") if m["body"] == "back"],
            timeout=10,
            message="the answer to cross back",
        )
    finally:
        for client in (shopper, console):
            if client.client.connected:
                client.client.disconnect()
        stop_live_server(first)
        stop_live_server(second)
