"""The /console namespace through the Flask-SocketIO test client."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.chat import relay
from helpdesk.tickets.models import Conversation, Inbox, Message
from tests.chat.conftest import Clients, received, session_of
from tests.conftest import make_agent

C = "/console"
W = "/widget"


def shopper_writes(clients: Clients, site: str, body: str = "Hello?") -> tuple[object, str]:
    w = clients.widget({"site": site})
    ack = w.emit("message:send", {"client_msg_id": "first", "body": body}, namespace=W, callback=True)
    assert ack["ok"], ack
    return w, ack["message"]["conversation_id"]


def test_console_without_login_is_refused(app: Flask, clients: Clients) -> None:
    assert not clients.console(app.test_client()).is_connected(C)
    assert not clients.console(None).is_connected(C)


def test_console_from_a_foreign_origin_is_refused_even_when_logged_in(
    app: Flask, clients: Clients, agent, logged_in
) -> None:
    http = logged_in(agent.email)
    assert not clients.console(http, headers={"Origin": "https://evil.example"}).is_connected(C)
    assert clients.console(http, headers={"Origin": "http://localhost"}).is_connected(C)


def test_new_chat_appears_live_in_every_console(
    app: Flask, clients: Clients, site: str, agent, manager, logged_in
) -> None:
    a = clients.console(logged_in(agent.email))
    m = clients.console(logged_in(manager.email))
    _w, conv_id = shopper_writes(clients, site)
    for console in (a, m):
        new = received(console, "conversation:new", C)
        assert [c["id"] for c in new] == [conv_id]
        assert new[0]["customer"]["name"].startswith("Visitor ") and new[0]["status"] == "open"


def test_subscribed_console_gets_messages_and_typing_live(
    app: Flask, clients: Clients, site: str, agent, logged_in
) -> None:
    w, conv_id = shopper_writes(clients, site)
    console = clients.console(logged_in(agent.email))
    sub = console.emit("subscribe", {"conversation_id": conv_id}, namespace=C, callback=True)
    assert sub["ok"] and [m["body"] for m in sub["messages"]] == ["Hello?"]
    assert sub["conversation"]["id"] == conv_id
    console.get_received(C)
    w.emit("typing", {"conversation_id": conv_id, "typing": True}, namespace=W)
    w.emit("message:send", {"client_msg_id": "2", "body": "<i>second</i>"}, namespace=W, callback=True)
    typing = received(console, "typing", C)
    assert typing and typing[0]["typing"] is True and typing[0]["author"]["type"] == "customer"
    history = console.emit(
        "history", {"conversation_id": conv_id, "after_seq": 1}, namespace=C, callback=True
    )
    assert [m["body"] for m in history["messages"]] == ["<i>second</i>"]


def test_subscribed_console_receives_message_new_after_commit(
    app: Flask, clients: Clients, site: str, agent, logged_in
) -> None:
    w, conv_id = shopper_writes(clients, site)
    console = clients.console(logged_in(agent.email))
    console.emit("subscribe", {"conversation_id": conv_id}, namespace=C, callback=True)
    console.get_received(C)
    w.emit("message:send", {"client_msg_id": "2", "body": "second"}, namespace=W, callback=True)
    new = received(console, "message:new", C)
    assert [(m["seq"], m["body"], m["private"]) for m in new] == [(2, "second", False)]
    with db_of(app).sessions() as db:  # what was emitted is what is stored
        assert db.scalar(select(Message.body_text).filter_by(seq=2)) == "second"


def test_refused_agent_message_emits_nothing(
    app: Flask, clients: Clients, site: str, agent, logged_in
) -> None:
    w, conv_id = shopper_writes(clients, site)
    console = clients.console(logged_in(agent.email))
    w.get_received(W)
    ack = console.emit(
        "message:send",
        {"conversation_id": conv_id, "client_msg_id": "x", "body": "a" * 100_000},
        namespace=C,
        callback=True,
    )
    assert ack["ok"] is False and ack["error"]["code"] == "body_too_long"
    assert received(w, "message:new", W) == []


def test_agent_typing_reaches_the_widget_but_not_while_writing_a_note(
    app: Flask, clients: Clients, site: str, agent, logged_in
) -> None:
    w, conv_id = shopper_writes(clients, site)
    console = clients.console(logged_in(agent.email))
    w.get_received(W)
    console.emit("typing", {"conversation_id": conv_id, "typing": True, "private": True}, namespace=C)
    assert received(w, "typing", W) == []
    console.emit("typing", {"conversation_id": conv_id, "typing": True}, namespace=C)
    typing = received(w, "typing", W)
    assert typing == [
        {"conversation_id": conv_id, "typing": True, "author": {"type": "agent", "name": "Alice Agent"}}
    ]


def test_viewers_of_a_conversation_see_each_other(
    app: Flask, clients: Clients, site: str, agent, manager, logged_in
) -> None:
    _w, conv_id = shopper_writes(clients, site)
    a = clients.console(logged_in(agent.email))
    m = clients.console(logged_in(manager.email))
    a.emit("subscribe", {"conversation_id": conv_id}, namespace=C, callback=True)
    m.emit("subscribe", {"conversation_id": conv_id}, namespace=C, callback=True)
    latest = received(a, "viewers", C)[-1]
    assert latest["conversation_id"] == conv_id
    assert sorted(v["name"] for v in latest["agents"]) == ["Alice Agent", "Mary Manager"]
    m.disconnect(C)
    assert [v["name"] for v in received(a, "viewers", C)[-1]["agents"]] == ["Alice Agent"]


def test_presence_online_away_is_pushed_to_consoles_and_widgets(
    app: Flask, clients: Clients, site: str, agent, manager, logged_in
) -> None:
    w = clients.widget({"site": site})
    assert session_of(w)["online"] is False
    observer = clients.console(logged_in(manager.email))
    assert received(w, "agents:online", W)[-1] == {"online": True}
    a = clients.console(logged_in(agent.email))
    assert received(observer, "presence", C)[-1] == {
        "agent": {"id": agent.public_id, "name": "Alice Agent"},
        "status": "online",
    }
    assert a.emit("presence", {"status": "away"}, namespace=C, callback=True)["ok"]
    assert received(observer, "presence", C)[-1]["status"] == "away"
    bad = a.emit("presence", {"status": "asleep"}, namespace=C, callback=True)
    assert bad["ok"] is False and bad["error"]["code"] == "invalid_status"
    observer.emit("presence", {"status": "away"}, namespace=C, callback=True)
    assert received(w, "agents:online", W)[-1] == {"online": False}


def test_status_and_assignment_changes_push_to_every_console_and_the_widget(
    app: Flask, clients: Clients, site: str, agent, manager, logged_in
) -> None:
    w, conv_id = shopper_writes(clients, site)
    a = clients.console(logged_in(agent.email))
    m = clients.console(logged_in(manager.email))
    claim = a.emit("claim", {"conversation_id": conv_id}, namespace=C, callback=True)
    assert claim["ok"] and claim["conversation"]["assignee"]["name"] == "Alice Agent"
    relay.ROWS.flush()  # the consoles' rows (and their changes) go out with the 100 ms tick
    updated = [r for b in received(m, "conversations:updated", C) for r in b["conversations"]]
    assert (
        updated[-1]["assignee"]["name"] == "Alice Agent"
        and updated[-1]["changes"]["assignee"][1] == "Alice Agent"
    )
    again = m.emit("claim", {"conversation_id": conv_id}, namespace=C, callback=True)
    assert again["ok"] is False and again["error"]["code"] == "already_claimed"
    http = logged_in(manager.email)
    from tests.conftest import csrf_token

    token = csrf_token(http, f"/console/c/{conv_id}")
    http.post(f"/console/c/{conv_id}/status", data={"status": "resolved", "csrf_token": token})
    relay.ROWS.flush()
    rows = [r for b in received(a, "conversations:updated", C) for r in b["conversations"]]
    assert rows[-1]["status"] == "resolved" and rows[-1]["changes"]["status"] == ["open", "resolved"]
    public = received(w, "conversation:updated", W)[-1]
    assert public["status"] == "resolved"
    assert "customer" not in public and "changes" not in public  # the public shape only


def test_round_robin_hands_new_chats_to_online_members_within_their_limit(
    app: Flask, clients: Clients, inbox: Inbox, site: str, logged_in
) -> None:
    bea = make_agent(app, "bea@example.com", "agent", "Bea")
    cem = make_agent(app, "cem@example.com", "agent", "Cem")
    dan = make_agent(app, "dan@example.com", "agent", "Dan")  # a member, but offline
    with db_of(app).unit_of_work() as db:
        ib = db.merge(inbox)
        ib.auto_assign = True
        ib.max_open_per_agent = 2
        ib.members = [db.merge(bea), db.merge(cem), db.merge(dan)]
    clients.console(logged_in("bea@example.com"))
    clients.console(logged_in("cem@example.com"))
    conv_ids = [shopper_writes(clients, site, f"chat {n}")[1] for n in range(5)]
    with db_of(app).sessions() as db:
        owners = [db.scalar(select(Conversation).filter_by(public_id=c)).assignee for c in conv_ids]
        names = [o.name if o else None for o in owners]
    assert names == ["Bea", "Cem", "Bea", "Cem", None]  # the fifth waits in the queue: both are at 2


def test_auto_assign_off_leaves_new_chats_in_the_queue(
    app: Flask, clients: Clients, site: str, agent, logged_in
) -> None:
    clients.console(logged_in(agent.email))
    _w, _conv_id = shopper_writes(clients, site)
    with db_of(app).sessions() as db:
        assert (
            db.scalar(
                select(func.count()).select_from(Conversation).where(Conversation.assignee_id.is_not(None))
            )
            == 0
        )


def test_socket_events_reuse_the_session_their_connection_opened(
    app: Flask, clients: Clients, site: str, agent, logged_in, monkeypatch
) -> None:
    """Flask-SocketIO replaces each event's session with the connection's own: opening (verifying and
    decoding) the cookie again per chat message was CPU for nothing."""
    from flask.sessions import SecureCookieSessionInterface

    _shopper, conv_id = shopper_writes(clients, site)
    console = clients.console(logged_in(agent.email))
    console.emit("subscribe", {"conversation_id": conv_id}, namespace=C, callback=True)
    opened: list[str] = []
    original = SecureCookieSessionInterface.open_session

    def counting(self, app_, request):  # type: ignore[no-untyped-def]
        opened.append(request.path)
        return original(self, app_, request)

    monkeypatch.setattr(SecureCookieSessionInterface, "open_session", counting)
    for n in range(3):
        ack = console.emit("message:send", {"conversation_id": conv_id, "client_msg_id": f"s{n}", "body": "hi"},
                           namespace=C, callback=True)
        assert ack["ok"], ack  # still the logged-in agent
    assert opened == []
    assert app.test_client().get("/login").status_code == 200 and opened  # plain requests still open theirs
