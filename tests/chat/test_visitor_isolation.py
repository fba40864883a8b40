"""Finding 4 of issue 12: only a browser that proved its identity (the shop's HMAC) sees a customer's
other conversations. A visitor who types Ann's address and is then merged into Ann by an agent
keeps seeing only what it started itself, over real sockets, merge or not."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import requests
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.chat.models import ChatVisitor
from helpdesk.tickets.models import Conversation, Inbox
from tests.chat.conftest import Clients  # noqa: F401  (keeps the autouse presence reset)
from tests.chat.test_live_sockets import Recorder, login_cookie
from tests.conftest import PASSWORD, LiveServer
from tests.servers import wait_until


def sign(inbox: Inbox, email: str) -> str:
    return hmac.new(inbox.secret.encode(), email.encode(), hashlib.sha256).hexdigest()


def widget(server: LiveServer, auth: dict[str, Any]) -> Recorder:
    rec = Recorder()
    rec.client.connect(server.url, namespaces=["/widget"], auth=auth, transports=["websocket"])
    wait_until(lambda: rec.of("session"), timeout=10, message="the widget session")
    return rec


def call(rec: Recorder, event: str, data: dict[str, Any], namespace: str = "/widget") -> dict[str, Any]:
    return rec.client.call(event, data, namespace=namespace, timeout=10)


def manager_http(server: LiveServer, email: str) -> requests.Session:
    http = requests.Session()
    html = http.get(f"{server.url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    answer = http.post(f"{server.url}/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                       allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return http


def merge(server: LiveServer, http: requests.Session, target: str, source: str) -> None:
    html = http.get(f"{server.url}/console/customers/{target}", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    answer = http.post(f"{server.url}/console/customers/{target}/merge",
                       data={"source": source, "csrf_token": token}, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text[:500]


def customer_of(app: Flask, conversation_id: str) -> str:
    with db_of(app).sessions() as s:
        conv = s.scalar(select(Conversation).filter_by(public_id=conversation_id))
        return conv.customer.public_id


def test_a_merged_unverified_visitor_never_sees_the_customers_history_or_live_messages(
    app: Flask, agent: Any, manager: Any, inbox: Inbox, live_server: LiveServer
) -> None:
    site = inbox.site_key
    ann = widget(live_server, {"site": site, "identity": {"email": "ann@example.com", "name": "Ann Real",
                                                           "hmac": sign(inbox, "ann@example.com")}})
    eve = widget(live_server, {"site": site})
    console = Recorder()
    try:
        assert ann.of("session")[0]["visitor"]["verified"] is True
        ann_conv = call(ann, "message:send", {"client_msg_id": "a1", "body": "my card ends 4242"})[
            "message"]["conversation_id"]
        eve_token = eve.of("session")[0]["token"]
        eve_conv = call(eve, "message:send", {"client_msg_id": "e1", "body": "hi"})["message"]["conversation_id"]
        assert call(eve, "contact:update", {"email": "ann@example.com", "name": "Ann?"})["ok"]
        eve.client.disconnect()

        # The agent believes the visitor is Ann and merges the "duplicate" into her.
        merge(live_server, manager_http(live_server, manager.email), customer_of(app, ann_conv),
              customer_of(app, eve_conv))
        assert customer_of(app, eve_conv) == customer_of(app, ann_conv)

        eve = widget(live_server, {"site": site, "token": eve_token})
        session = eve.of("session")[0]
        assert session["visitor"]["verified"] is False
        assert [c["id"] for c in session["conversations"]] == [eve_conv]
        assert session["conversation"]["id"] == eve_conv
        assert session["visitor"]["name"] != "Ann Real"
        history = call(eve, "history", {"conversation_id": ann_conv, "after_seq": 0})
        assert history["ok"] is False and history["error"]["code"] == "not_found"
        assert call(eve, "message:send", {"client_msg_id": "e2", "body": "x", "conversation_id": ann_conv}
                    )["ok"] is False
        assert call(eve, "orders:list", {})["error"]["code"] == "not_verified"
        # Its own conversation still works after the merge.
        own = call(eve, "history", {"conversation_id": eve_conv, "after_seq": 0})
        assert [m["body"] for m in own["messages"]] == ["hi"]

        # Ann's new messages reach Ann's verified browser live, never Eve's.
        console.client.connect(live_server.url, namespaces=["/console"], transports=["websocket"],
                               headers={"Cookie": login_cookie(live_server, agent.email)})
        reply = call(console, "message:send", {"conversation_id": ann_conv, "client_msg_id": "r1",
                                               "body": "your refund is on its way"}, namespace="/console")
        assert reply["ok"], reply
        wait_until(lambda: any(m["body"] == "your refund is on its way" for m in ann.of("message:new")),
                   timeout=10, message="the reply in Ann's widget")
        mine = call(console, "message:send", {"conversation_id": eve_conv, "client_msg_id": "r2",
                                              "body": "for the visitor"}, namespace="/console")
        assert mine["ok"], mine
        wait_until(lambda: any(m["body"] == "for the visitor" for m in eve.of("message:new")),
                   timeout=10, message="the answer in the visitor's own conversation")
        assert [m["conversation_id"] for m in eve.of("message:new")] == [eve_conv]
        # Ann's verified browser, by contrast, now sees both: the agent said they are one person.
        ann2 = widget(live_server, {"site": site, "token": ann.of("session")[0]["token"],
                                    "identity": {"email": "ann@example.com", "hmac": sign(inbox, "ann@example.com")}})
        assert {c["id"] for c in ann2.of("session")[0]["conversations"]} == {ann_conv, eve_conv}
        ann2.client.disconnect()
        with db_of(app).sessions() as s:
            rows = {v.verified for v in s.scalars(select(ChatVisitor))}
        assert rows == {True, False}
    finally:
        for rec in (ann, eve, console):
            if rec.client.connected:
                rec.client.disconnect()


def test_a_merge_target_that_is_the_anonymous_visitor_does_not_verify_its_browser(
    app: Flask, clients: Any, inbox: Inbox, manager: Any
) -> None:
    """The agent may pick either side as the target: Ann folded INTO the visitor's record must not
    make the anonymous browser verified or show it Ann's conversation."""
    from helpdesk.actors import agent_actor
    from helpdesk.customers360 import services as c360
    from tests.chat.conftest import received

    site = inbox.site_key
    identity = {"email": "ann@example.com", "hmac": sign(inbox, "ann@example.com")}
    ann = clients.widget({"site": site, "identity": identity})
    ann_conv = ann.emit("message:send", {"client_msg_id": "a", "body": "secret"}, namespace="/widget",
                        callback=True)["message"]["conversation_id"]
    eve = clients.widget({"site": site})
    token = received(eve, "session", "/widget")[-1]["token"]
    eve_conv = eve.emit("message:send", {"client_msg_id": "e", "body": "hi"}, namespace="/widget",
                        callback=True)["message"]["conversation_id"]
    eve.disconnect(namespace="/widget")
    with db_of(app).unit_of_work() as s:
        target = s.scalar(select(Conversation).filter_by(public_id=eve_conv)).customer
        source = s.scalar(select(Conversation).filter_by(public_id=ann_conv)).customer
        c360.merge(s, agent_actor(s.merge(manager)), target, source)
    again = clients.widget({"site": site, "token": token})
    session = received(again, "session", "/widget")[-1]
    assert session["visitor"]["verified"] is False
    assert [c["id"] for c in session["conversations"]] == [eve_conv]
    answer = again.emit("history", {"conversation_id": ann_conv}, namespace="/widget", callback=True)
    assert answer["error"]["code"] == "not_found"
    assert again.emit("orders:list", {}, namespace="/widget", callback=True)["error"]["code"] == "not_verified"
