"""One truth across app processes: two `helpdesk run` processes on one database and one Redis.

Presence, who is viewing a conversation, round-robin and the flood gate are shared through Redis,
so where a socket landed (nginx spreads them by address) changes nothing a user sees."""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.tickets.models import Conversation, Inbox
from tests.chat.test_live_sockets import Recorder, login_cookie
from tests.conftest import LiveServer, make_agent, start_live_server, stop_live_server
from tests.servers import wait_until

_prefixes = itertools.count()


@pytest.fixture
def two_processes(database_url: str, tmp_path: Path, redis_server: Any) -> Iterator[Callable[..., list[LiveServer]]]:
    """Start two app processes sharing the test's database and Redis (own key prefix per test)."""
    started: list[LiveServer] = []

    def start(**settings: str) -> list[LiveServer]:
        env = {"HELPDESK_REDIS_URL": redis_server.url,
               "HELPDESK_CHAT_REDIS_PREFIX": f"test{os.getpid()}-{next(_prefixes)}:", **settings}
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            started.append(start_live_server(tmp_path / name, database_url, env))
        return started

    yield start
    for server in started:
        stop_live_server(server)


@pytest.fixture
def recorders() -> Iterator[Callable[[], Recorder]]:
    made: list[Recorder] = []

    def make() -> Recorder:
        made.append(Recorder())
        return made[-1]

    yield make
    for recorder in made:
        if recorder.client.connected:
            recorder.client.disconnect()


def console_on(server: LiveServer, email: str, recorder: Recorder) -> Recorder:
    recorder.client.connect(server.url, namespaces=["/console"], transports=["websocket"],
                            headers={"Cookie": login_cookie(server, email)})
    wait_until(lambda: recorder.of("session"), timeout=10, message="the console session")
    return recorder


def widget_on(server: LiveServer, site: str, recorder: Recorder, token: str | None = None) -> dict[str, Any]:
    recorder.client.connect(server.url, namespaces=["/widget"], auth={"site": site, "token": token},
                            transports=["websocket"])
    wait_until(lambda: recorder.of("session"), timeout=10, message="the widget session")
    return recorder.of("session")[-1]


def send(recorder: Recorder, client_msg_id: str, body: str) -> dict[str, Any]:
    return recorder.client.call("message:send", {"client_msg_id": client_msg_id, "body": body},
                                namespace="/widget", timeout=10)


def test_a_shopper_on_one_process_sees_an_agent_online_on_the_other(
        app: Flask, agent: Any, site: str, two_processes: Any, recorders: Any) -> None:
    a, b = two_processes()
    console_on(b, agent.email, recorders())
    assert widget_on(a, site, recorders())["online"] is True


def test_agents_on_two_processes_see_each_other_viewing(
        app: Flask, agent: Any, site: str, two_processes: Any, recorders: Any) -> None:
    bob = make_agent(app, "bob@example.com", "agent", "Bob Agent")
    a, b = two_processes()
    shopper = recorders()
    widget_on(a, site, shopper)
    conv_id = send(shopper, "m1", "is anyone there?")["message"]["conversation_id"]
    alice_console, bob_console = console_on(a, agent.email, recorders()), console_on(b, bob.email, recorders())
    assert alice_console.client.call("subscribe", {"conversation_id": conv_id}, namespace="/console",
                                     timeout=10)["ok"]
    assert bob_console.client.call("subscribe", {"conversation_id": conv_id}, namespace="/console",
                                   timeout=10)["ok"]

    def names(recorder: Recorder) -> set[str]:
        latest = [v for v in recorder.of("viewers") if v["conversation_id"] == conv_id]
        return {viewer["name"] for viewer in latest[-1]["agents"]} if latest else set()

    wait_until(lambda: names(alice_console) == {"Alice Agent", "Bob Agent"}, timeout=10,
               message="Alice to see Bob viewing")
    wait_until(lambda: names(bob_console) == {"Alice Agent", "Bob Agent"}, timeout=10,
               message="Bob to see Alice viewing")
    bob_console.client.disconnect()
    wait_until(lambda: names(alice_console) == {"Alice Agent"}, timeout=10, message="Bob's leaving to show")


def test_round_robin_alternates_across_processes(
        app: Flask, agent: Any, inbox: Inbox, site: str, two_processes: Any, recorders: Any) -> None:
    bob = make_agent(app, "bob@example.com", "agent", "Bob Agent")
    with db_of(app).unit_of_work() as s:
        row = s.get(Inbox, inbox.id)
        row.auto_assign = True
        row.members = [s.merge(agent), s.merge(bob)]
    a, b = two_processes()
    console_on(a, agent.email, recorders())
    console_on(b, bob.email, recorders())
    conversations = []
    for n, server in enumerate((a, a, b, b)):
        shopper = recorders()
        widget_on(server, site, shopper)
        conversations.append(send(shopper, f"rr{n}", f"hello {n}")["message"]["conversation_id"])
    with db_of(app).unit_of_work() as s:
        assignees = [s.scalar(select(Conversation).filter_by(public_id=c)).assignee.email for c in conversations]
    assert assignees == [agent.email, bob.email, agent.email, bob.email]


def test_the_flood_gate_counts_a_visitors_sends_on_both_processes(
        app: Flask, site: str, two_processes: Any, recorders: Any) -> None:
    a, b = two_processes(HELPDESK_CHAT_FLOOD_BURST="4", HELPDESK_CHAT_FLOOD_WINDOW_SECONDS="60")
    first = recorders()
    token = widget_on(a, site, first)["token"]
    second = recorders()
    widget_on(b, site, second, token=token)  # the same shopper in a second tab, on the other process
    acks = [send(first, f"a{n}", "spam") for n in range(3)] + [send(second, f"b{n}", "spam") for n in range(3)]
    assert [ack["ok"] for ack in acks] == [True] * 4 + [False] * 2
    assert {ack["error"]["code"] for ack in acks[4:]} == {"rate_limited"}


def test_a_killed_process_s_agents_go_offline_after_the_ttl(
        app: Flask, agent: Any, site: str, two_processes: Any, recorders: Any) -> None:
    a, b = two_processes(HELPDESK_CHAT_PRESENCE_TTL_SECONDS="2")
    console_on(a, agent.email, recorders())
    shopper = recorders()
    assert widget_on(b, site, shopper)["online"] is True
    os.kill(a.proc.pid, signal.SIGKILL)  # no disconnect handler runs: only the expiry can tell
    a.proc.wait(timeout=10)
    wait_until(lambda: {"online": False} in shopper.of("agents:online"), timeout=10,
               message="the shopper to hear that nobody is online any more")
    assert widget_on(b, site, recorders())["online"] is False


def test_new_visitors_per_address_are_counted_on_both_processes_behind_a_proxy(
        app: Flask, site: str, two_processes: Any) -> None:
    """Behind nginx (HELPDESK_PROXY_FIX_HOPS=1) the shopper's own address counts, on every process."""
    import socketio

    a, b = two_processes(HELPDESK_PROXY_FIX_HOPS="1", HELPDESK_CHAT_NEW_VISITOR_RATE_ADDRESS="3/minute")

    def fresh(server: LiveServer, address: str) -> Any:
        client = socketio.Client(reconnection=False)
        refused: list[Any] = []
        client.on("connect_error", refused.append, namespace="/widget")
        try:
            client.connect(server.url, namespaces=["/widget"], auth={"site": site}, transports=["websocket"],
                           headers={"X-Forwarded-For": address}, wait_timeout=10)
        except socketio.exceptions.ConnectionError:
            return refused[0] if refused else "refused"
        client.disconnect()
        return "connected"

    answers = [fresh(server, "203.0.113.7") for server in (a, b, a, b)]
    assert answers[:3] == ["connected"] * 3
    assert answers[3]["data"]["error"]["code"] == "rate_limited"
    assert fresh(a, "203.0.113.8") == "connected"  # another shopper's network is not affected


def test_a_killed_process_s_viewer_leaves_the_viewers_of_agents_elsewhere(
        app: Flask, agent: Any, site: str, two_processes: Any, recorders: Any) -> None:
    bob = make_agent(app, "bob@example.com", "agent", "Bob Agent")
    a, b = two_processes(HELPDESK_CHAT_PRESENCE_TTL_SECONDS="2")
    shopper = recorders()
    widget_on(b, site, shopper)
    conv_id = send(shopper, "v1", "hello")["message"]["conversation_id"]
    alice_console, bob_console = console_on(a, agent.email, recorders()), console_on(b, bob.email, recorders())
    for console in (alice_console, bob_console):
        assert console.client.call("subscribe", {"conversation_id": conv_id}, namespace="/console", timeout=10)["ok"]

    def names() -> set[str]:
        latest = [v for v in bob_console.of("viewers") if v["conversation_id"] == conv_id]
        return {viewer["name"] for viewer in latest[-1]["agents"]} if latest else set()

    wait_until(lambda: names() == {"Alice Agent", "Bob Agent"}, timeout=10, message="Bob to see Alice viewing")
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait(timeout=10)
    wait_until(lambda: names() == {"Bob Agent"}, timeout=10, message="Alice to leave Bob's viewers")
    offline = [p for p in bob_console.of("presence") if p["agent"]["name"] == "Alice Agent"]
    assert offline and offline[-1]["status"] == "offline"
