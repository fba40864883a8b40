"""Many writers into ONE conversation at the same moment, over a real port: a shopper socket, two
agent sockets and the REST API. Every send is acked, stored once, and the seqs stay contiguous."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.tickets.models import Message
from tests.chat.test_live_sockets import Recorder, login_cookie
from tests.conftest import LiveServer, make_agent
from tests.servers import wait_until

SHOPPER_SENDS = 7  # with its opening message, the shopper stays inside the flood gate (8 per 10 s)
PER_AGENT = 14
REST_SENDS = 15
TOTAL = SHOPPER_SENDS + 2 * PER_AGENT + REST_SENDS  # 50


def _connect_console(server: LiveServer, email: str) -> Recorder:
    console = Recorder()
    console.client.connect(server.url, namespaces=["/console"], transports=["websocket"],
                           headers={"Cookie": login_cookie(server, email)})
    return console


def _concurrent_sends(app: Flask, server: LiveServer, site: str, agent: Agent,
                      repeat: bool = False) -> tuple[str, list[dict[str, Any]]]:
    second = make_agent(app, "second@example.com")
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "tests")
    shopper = Recorder()
    shopper.client.connect(server.url, namespaces=["/widget"], auth={"site": site}, transports=["websocket"])
    consoles = [_connect_console(server, agent.email), _connect_console(server, second.email)]
    try:
        wait_until(lambda: shopper.of("session"), timeout=10, message="the widget session")
        first = shopper.client.call("message:send", {"client_msg_id": "open", "body": "hello"},
                                    namespace="/widget", timeout=20)
        assert first["ok"], first
        conv_id = first["message"]["conversation_id"]
        http = requests.Session()
        http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=REST_SENDS))
        start = threading.Barrier(TOTAL)

        def shopper_send(n: int) -> dict[str, Any]:
            start.wait(timeout=30)
            return shopper.client.call("message:send", {"client_msg_id": f"s{n % 4 if repeat else n}",
                                                        "conversation_id": conv_id, "body": f"shopper {n}"},
                                       namespace="/widget", timeout=30)

        def agent_send(which: int, n: int) -> dict[str, Any]:
            start.wait(timeout=30)
            cid = f"a{which}-{n % 4 if repeat else n}"
            return consoles[which].client.call("message:send", {"conversation_id": conv_id, "client_msg_id": cid,
                                                                "body": f"agent {which} {n}"},
                                               namespace="/console", timeout=30)

        def rest_send(n: int) -> dict[str, Any]:
            start.wait(timeout=30)
            answer = http.post(f"{server.url}/api/v1/conversations/{conv_id}/messages", timeout=30,
                               headers={"Authorization": f"Bearer {token}"},
                               json={"body": f"rest {n}", "client_msg_id": f"r{n % 4 if repeat else n}"})
            return {"ok": answer.status_code == 201, "status": answer.status_code, "body": answer.text}

        with ThreadPoolExecutor(max_workers=TOTAL) as pool:
            futures = [pool.submit(shopper_send, n) for n in range(SHOPPER_SENDS)]
            futures += [pool.submit(agent_send, w, n) for w in (0, 1) for n in range(PER_AGENT)]
            futures += [pool.submit(rest_send, n) for n in range(REST_SENDS)]
            results = [f.result(timeout=60) for f in futures]
        return conv_id, results
    finally:
        shopper.client.disconnect()
        for console in consoles:
            console.client.disconnect()


def _stored(app: Flask, conv_id: str) -> list[tuple[int, str | None]]:
    from helpdesk.tickets.models import Conversation

    with db_of(app).sessions() as s:
        conv = s.scalar(select(Conversation).filter_by(public_id=conv_id))
        rows = s.execute(select(Message.seq, Message.client_msg_id).filter_by(conversation_id=conv.id)
                         .order_by(Message.seq)).all()
        assert conv.last_seq == len(rows)
        return [(seq, cid) for seq, cid in rows]


def test_fifty_concurrent_sends_into_one_conversation_are_all_stored_in_order(
    app: Flask, agent: Agent, site: str, live_server: LiveServer
) -> None:
    conv_id, results = _concurrent_sends(app, live_server, site, agent)
    assert [r for r in results if not r.get("ok")] == []
    stored = _stored(app, conv_id)
    assert [seq for seq, _ in stored] == list(range(1, TOTAL + 2))  # the opening message, then 50
    ids = [cid for _, cid in stored]
    assert len(set(ids)) == len(ids)
    assert "internal_error" not in live_server.output() and "Traceback" not in live_server.output()


def test_concurrent_repeats_of_one_client_msg_id_return_the_stored_message(
    app: Flask, agent: Agent, site: str, live_server: LiveServer
) -> None:
    """Each sender resends 4 ids over and over at the same moment: a duplicate gets the stored
    message back (same seq), never an error, and each id is stored once."""
    conv_id, results = _concurrent_sends(app, live_server, site, agent, repeat=True)
    assert [r for r in results if not r.get("ok")] == []
    stored = _stored(app, conv_id)
    assert [seq for seq, _ in stored] == list(range(1, len(stored) + 1))
    assert len(stored) == 1 + 4 * 4  # the opening message, then 4 ids from each of the 4 senders
    assert "Traceback" not in live_server.output()


# Meaningful on PostgreSQL (concurrent writers); on SQLite it still checks the same contract.
pytestmark = pytest.mark.postgres_only
