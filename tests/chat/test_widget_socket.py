"""The /widget namespace through the Flask-SocketIO test client."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.chat.models import ChatVisitor
from helpdesk.crm.models import Customer, Identity, IdentityKind
from helpdesk.extensions import socketio
from helpdesk.tickets.models import Conversation, Inbox, Message
from tests.chat.conftest import Clients, received, session_of
from tests.factories import make_conversation, make_inbox

W = "/widget"


def send(client, body, cmid, **extra):
    return client.emit(
        "message:send", {"client_msg_id": cmid, "body": body, **extra}, namespace=W, callback=True
    )


def count(app: Flask, model) -> int:
    with db_of(app).sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_new_visitor_gets_a_long_random_token_stored_only_hashed(
    app: Flask, clients: Clients, site: str
) -> None:
    s = session_of(clients.widget({"site": site, "token": None}))
    assert len(s["token"]) >= 32  # 24 random bytes, URL-safe base64: 192 bits
    assert s["conversation"] is None and s["visitor"]["verified"] is False
    with db_of(app).sessions() as db:
        visitor = db.scalar(select(ChatVisitor))
        assert visitor.token_hash == hashlib.sha256(s["token"].encode()).hexdigest()
        assert s["token"] not in visitor.token_hash
        assert visitor.customer is None  # a page view makes no customer record


def test_first_message_makes_the_visitor_a_customer_with_a_visitor_identity(
    app: Flask, clients: Clients, site: str
) -> None:
    w = clients.widget({"site": site})
    send(w, "hello", "1")
    send(w, "again", "2")
    with db_of(app).sessions() as db:
        visitor = db.scalar(select(ChatVisitor))
        assert [i.kind for i in visitor.customer.identities] == [IdentityKind.visitor]
        assert re.fullmatch(r"Visitor [A-Z0-9_-]{4}", visitor.customer.display_name)  # told apart, not all "Visitor"
        assert db.scalar(select(func.count()).select_from(Customer)) == 1


def test_first_message_opens_a_conversation_and_acks_the_stored_message(
    app: Flask, clients: Clients, site: str
) -> None:
    w = clients.widget({"site": site})
    ack = send(w, "Where is my parcel?", "c-1")
    assert ack["ok"] is True
    m = ack["message"]
    assert m["seq"] == 1 and m["client_msg_id"] == "c-1" and m["author"]["type"] == "customer"
    assert m["body"] == "Where is my parcel?"
    assert set(m) >= {
        "id",
        "conversation_id",
        "seq",
        "client_msg_id",
        "author",
        "body",
        "attachments",
        "created_at",
    }
    with db_of(app).sessions() as db:
        conv = db.scalar(select(Conversation))
        assert conv.public_id == m["conversation_id"] and conv.subject == "Where is my parcel?"
        assert conv.assignee_id is None  # into the queue


def test_resend_with_same_client_msg_id_stores_one_message_and_acks_the_stored_one(
    app: Flask, clients: Clients, site: str
) -> None:
    w = clients.widget({"site": site})
    first = send(w, "hello", "same-id")
    again = send(w, "hello", "same-id")
    again_with_conv = send(w, "hello", "same-id", conversation_id=first["message"]["conversation_id"])
    assert first["message"] == again["message"] == again_with_conv["message"]
    assert count(app, Message) == 1 and count(app, Conversation) == 1


def test_token_resumes_the_same_visitor_and_conversation(app: Flask, clients: Clients, site: str) -> None:
    w = clients.widget({"site": site})
    token = session_of(w)["token"]
    conv_id = send(w, "hi", "1")["message"]["conversation_id"]
    w.disconnect(W)
    again = session_of(clients.widget({"site": site, "token": token}))
    assert again["token"] == token
    assert again["conversation"]["id"] == conv_id and again["conversation"]["last_seq"] == 1
    assert count(app, ChatVisitor) == 1


def test_history_after_seq_returns_later_messages_in_order(app: Flask, clients: Clients, site: str) -> None:
    w = clients.widget({"site": site})
    conv_id = None
    for n in range(1, 6):
        conv_id = send(w, f"message {n}", f"m{n}")["message"]["conversation_id"]
    ack = w.emit("history", {"conversation_id": conv_id, "after_seq": 2}, namespace=W, callback=True)
    assert ack["ok"] and [m["seq"] for m in ack["messages"]] == [3, 4, 5]
    assert [m["body"] for m in ack["messages"]] == ["message 3", "message 4", "message 5"]


def test_agent_reply_reaches_the_widget_but_private_notes_never_do(
    app: Flask, clients: Clients, site: str, agent, logged_in
) -> None:
    w = clients.widget({"site": site})
    conv_id = send(w, "hi", "1")["message"]["conversation_id"]
    w.get_received(W)
    console = clients.console(logged_in(agent.email))
    assert console.emit(
        "message:send",
        {"conversation_id": conv_id, "client_msg_id": "n1", "body": "VIP, be nice", "private": True},
        namespace="/console",
        callback=True,
    )["ok"]
    assert console.emit(
        "message:send",
        {"conversation_id": conv_id, "client_msg_id": "r1", "body": "Hello!"},
        namespace="/console",
        callback=True,
    )["ok"]
    bodies = [m["body"] for m in received(w, "message:new", W)]
    assert bodies == ["Hello!"]
    history = w.emit("history", {"conversation_id": conv_id, "after_seq": 0}, namespace=W, callback=True)
    assert [m["body"] for m in history["messages"]] == ["hi", "Hello!"]
    assert all("private" not in m for m in history["messages"])


def test_unknown_or_missing_site_key_is_refused_at_connect(app: Flask, clients: Clients, site: str) -> None:
    assert not clients.widget({"site": "no-such-site"}).is_connected(W)
    assert not clients.widget({}).is_connected(W)
    assert not clients.widget(None).is_connected(W)
    assert count(app, ChatVisitor) == 0 and count(app, Customer) == 0


def test_token_of_another_site_is_refused_and_nothing_is_created(
    app: Flask, clients: Clients, site: str
) -> None:
    _other, other_key = make_inbox(app, "Other shop", "chat")
    token = session_of(clients.widget({"site": other_key}))["token"]
    assert not clients.widget({"site": site, "token": token}).is_connected(W)
    assert not clients.widget({"site": site, "token": "made-up-token"}).is_connected(W)
    assert not clients.widget({"site": site, "token": {"$ne": None}}).is_connected(W)
    assert count(app, ChatVisitor) == 1


def test_visitor_cannot_read_or_write_another_visitors_conversation(
    app: Flask, clients: Clients, site: str
) -> None:
    a = clients.widget({"site": site})
    b = clients.widget({"site": site})
    a_conv = send(a, "my secret order", "a1")["message"]["conversation_id"]
    b.get_received(W)
    peek = b.emit("history", {"conversation_id": a_conv, "after_seq": 0}, namespace=W, callback=True)
    assert peek == {"ok": False, "error": {"code": "not_found", "message": "no such conversation"}}
    write = send(b, "injected", "b1", conversation_id=a_conv)
    assert write["ok"] is False and write["error"]["code"] == "not_found"
    b.emit("typing", {"conversation_id": a_conv, "typing": True}, namespace=W)
    assert count(app, Message) == 1
    assert received(b, "message:new", W) == []


def test_empty_and_oversized_messages_are_refused_and_nothing_is_stored(
    app: Flask, clients: Clients, site: str
) -> None:
    w = clients.widget({"site": site})
    for body in ("", "   \n ", None, 42):
        ack = send(w, body, "x")
        assert ack["ok"] is False and ack["error"]["code"] in ("empty_body", "invalid_body")
    huge = send(w, "a" * 100_000, "big")
    assert huge["ok"] is False and huge["error"]["code"] == "body_too_long"
    no_id = w.emit("message:send", {"body": "hi"}, namespace=W, callback=True)
    assert no_id["error"]["code"] == "invalid_client_msg_id"
    assert count(app, Message) == 0 and count(app, Conversation) == 0


def test_html_is_stored_and_sent_as_plain_text(app: Flask, clients: Clients, site: str) -> None:
    w = clients.widget({"site": site})
    body = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    ack = send(w, body, "h1")
    assert ack["message"]["body"] == body  # text: the UIs render it with textContent / autoescape


def test_a_flood_of_messages_is_rate_limited_with_a_clear_error(
    app: Flask, clients: Clients, site: str
) -> None:
    w = clients.widget({"site": site})
    acks = [send(w, f"spam {n}", f"s{n}") for n in range(12)]
    ok = [a for a in acks if a["ok"]]
    refused = [a for a in acks if not a["ok"]]
    assert len(ok) == 8
    assert refused and all(a["error"]["code"] == "rate_limited" for a in refused)
    assert "too fast" in refused[0]["error"]["message"]
    assert received(w, "error", W)[0]["error"]["code"] == "rate_limited"
    assert count(app, Message) == 8


def _sign(inbox: Inbox, email: str) -> str:
    return hmac.new(inbox.secret.encode(), email.encode(), hashlib.sha256).hexdigest()


def test_identify_with_valid_hmac_verifies_and_joins_earlier_conversations(
    app: Flask, clients: Clients, inbox: Inbox, site: str
) -> None:
    earlier = make_conversation(app, inbox, email="ann@example.com", body="Old question")
    w = clients.widget({"site": site})
    anon_conv = send(w, "new question", "1")["message"]["conversation_id"]
    token = session_of(w)["token"]
    w.disconnect(W)
    identity = {"email": "ann@example.com", "name": "Ann", "hmac": _sign(inbox, "ann@example.com")}
    s = session_of(clients.widget({"site": site, "token": token, "identity": identity}))
    assert s["visitor"]["verified"] is True and s["visitor"]["email"] == "ann@example.com"
    assert {c["id"] for c in s["conversations"]} == {earlier.public_id, anon_conv}
    w2 = clients.made[-1]
    old = w2.emit(
        "history", {"conversation_id": earlier.public_id, "after_seq": 0}, namespace=W, callback=True
    )
    assert old["ok"] and old["messages"][0]["body"] == "Old question"
    with db_of(app).sessions() as db:
        ann = db.scalar(select(Identity).filter_by(kind=IdentityKind.email, value="ann@example.com"))
        assert ann.verified
        assert db.scalar(select(Conversation).filter_by(public_id=anon_conv)).customer_id == ann.customer_id


def test_identify_with_wrong_hmac_is_ignored_and_grants_no_history(
    app: Flask, clients: Clients, inbox: Inbox, site: str
) -> None:
    earlier = make_conversation(app, inbox, email="ann@example.com", body="Ann's private question")
    for bad in ("0" * 64, _sign(inbox, "bob@example.com"), None, "", 123):
        identity = {"email": "ann@example.com", "name": "Mallory", "hmac": bad}
        w = clients.widget({"site": site, "identity": identity})
        s = session_of(w)
        assert s["visitor"]["verified"] is False and s["visitor"]["email"] is None
        assert s["conversations"] == [] and s["conversation"] is None
        peek = w.emit(
            "history", {"conversation_id": earlier.public_id, "after_seq": 0}, namespace=W, callback=True
        )
        assert peek["ok"] is False
    with db_of(app).sessions() as db:
        assert db.scalar(select(Customer).filter_by(email="ann@example.com")).name is None


def test_contact_update_stores_email_without_joining_that_customers_history(
    app: Flask, clients: Clients, inbox: Inbox, site: str
) -> None:
    earlier = make_conversation(app, inbox, email="ann@example.com", body="Ann only")
    w = clients.widget({"site": site})
    ack = w.emit("contact:update", {"email": "ann@example.com", "name": "Ann?"}, namespace=W, callback=True)
    assert ack["ok"] is True
    bad = w.emit("contact:update", {"email": "not an email"}, namespace=W, callback=True)
    assert bad["ok"] is False and bad["error"]["code"] == "invalid_email"
    peek = w.emit(
        "history", {"conversation_id": earlier.public_id, "after_seq": 0}, namespace=W, callback=True
    )
    assert peek["ok"] is False


def test_csat_submit_goes_to_the_capability_and_validates_the_score(
    app: Flask, clients: Clients, site: str
) -> None:
    from helpdesk.runtime import runtime_of

    seen = []
    runtime_of(app).provide(
        "csat.submit", lambda s, actor, conv, score, comment: seen.append((score, comment)), replace=True
    )
    w = clients.widget({"site": site})
    conv_id = send(w, "hi", "1")["message"]["conversation_id"]
    assert (
        w.emit("csat:submit", {"conversation_id": conv_id, "score": 6}, namespace=W, callback=True)["ok"]
        is False
    )
    ok = w.emit(
        "csat:submit",
        {"conversation_id": conv_id, "score": 5, "comment": "great"},
        namespace=W,
        callback=True,
    )
    assert ok == {"ok": True} and seen == [(5, "great")]


def test_every_tab_of_a_visitor_gets_the_answer_even_one_opened_before_the_first_message(
    app: Flask, clients: Clients, site: str, agent, logged_in
) -> None:
    first_tab = clients.widget({"site": site})
    token = session_of(first_tab)["token"]
    second_tab = clients.widget({"site": site, "token": token})  # opened before anything was written
    conv_id = send(first_tab, "hi from tab one", "t1")["message"]["conversation_id"]
    console = clients.console(logged_in(agent.email))
    console.emit(
        "message:send",
        {"conversation_id": conv_id, "client_msg_id": "a1", "body": "hello both"},
        namespace="/console",
        callback=True,
    )
    for tab in (first_tab, second_tab):
        assert "hello both" in [m["body"] for m in received(tab, "message:new", W)]


def test_the_page_referrer_and_browser_of_a_chat_are_shown_beside_it(
    app: Flask, clients: Clients, site: str, agent_client: Any
) -> None:
    ua = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Mobile Safari/537.36")
    w = socketio.test_client(app, namespace=W, headers={"User-Agent": ua},
                             auth={"site": site, "page": "https://shop.example/products/linen-shirt?c=blue",
                                   "referrer": "javascript:alert(1)"})
    clients.made.append(w)
    conv_id = send(w, "does this come in blue?", "1")["message"]["conversation_id"]
    with db_of(app).sessions() as db:
        visitor = db.scalar(select(ChatVisitor))
        assert visitor.page_url == "https://shop.example/products/linen-shirt?c=blue"
        assert visitor.referrer is None  # not an http(s) link: dropped
        assert visitor.user_agent == ua
    html = agent_client.get(f"/console/c/{conv_id}").get_data(as_text=True)
    assert 'id="visitor-context"' in html and "https://shop.example/products/linen-shirt?c=blue" in html
    assert "Chrome 131 on Android" in html and "direct (no referrer)" in html
    assert "javascript:" not in html


def test_browser_names_from_user_agents() -> None:
    from helpdesk.chat.context import browser_of

    assert browser_of("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0") == "Edge 131 on Windows"
    assert browser_of("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                      "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1") == "Safari 17 on iOS"
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    assert browser_of(firefox) == "Firefox 133 on Linux"
    assert browser_of(None) is None and browser_of("curl/8.5") == "curl/8.5"
