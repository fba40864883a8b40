"""The job worker runs in another OS process than the sockets: it learns who is on the widget from
the database (ChatVisitor.connected_until), which the web process keeps up to date."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.chat import online, sockets
from helpdesk.chat.models import ChatVisitor
from helpdesk.db import utcnow
from helpdesk.runtime import runtime_of
from helpdesk.tickets.email import outbound
from helpdesk.tickets.models import Conversation
from tests.chat.conftest import Clients
from tests.chat.test_email_fallback import shopper_with_email

W = "/widget"


def as_the_worker_sees_it(app: Flask, conversation_id: str) -> bool:
    """The part of the presence check a process without the sockets can answer: the database."""
    with db_of(app).unit_of_work() as s:
        return online.marked_connected(s, s.scalar(select(Conversation).filter_by(public_id=conversation_id)))


def test_the_capability_asks_the_sockets_here_and_then_the_database(app: Flask, clients: Clients, site: str) -> None:
    _widget, conversation_id = shopper_with_email(clients, site)
    check = runtime_of(app).capability(outbound.SHOPPER_ONLINE_CAPABILITY)
    with db_of(app).unit_of_work() as s:
        conversation = s.scalar(select(Conversation).filter_by(public_id=conversation_id))
        assert check(s, conversation) is True
        s.execute(ChatVisitor.__table__.update().values(connected_until=None))
        assert online.marked_connected(s, conversation) is False
        assert check(s, conversation) is True  # still connected to this process's sockets


def marks(app: Flask) -> list[Any]:
    with db_of(app).unit_of_work() as s:
        return list(s.scalars(select(ChatVisitor.connected_until)))


def test_another_process_sees_a_connected_shopper_until_they_leave(
        app: Flask, clients: Clients, site: str) -> None:
    widget, conversation_id = shopper_with_email(clients, site)
    assert as_the_worker_sees_it(app, conversation_id) is True
    widget.disconnect(W)
    assert as_the_worker_sees_it(app, conversation_id) is False
    assert marks(app) == [None]


def test_the_mark_is_refreshed_while_connected_and_runs_out_without_refresh(
        app: Flask, clients: Clients, site: str) -> None:
    _widget, conversation_id = shopper_with_email(clients, site)
    with db_of(app).unit_of_work() as s:  # as if the last refresh was long ago (a web process died)
        s.execute(ChatVisitor.__table__.update().values(connected_until=utcnow() - timedelta(seconds=1)))
    assert as_the_worker_sees_it(app, conversation_id) is False
    assert online.refresh(runtime_of(app)) == 1
    [until] = marks(app)
    assert until > utcnow() + timedelta(seconds=sockets.CONNECTED_FOR_SECONDS - 10)
    assert as_the_worker_sees_it(app, conversation_id) is True


def test_a_second_tab_keeps_the_shopper_online_when_the_first_closes(
        app: Flask, clients: Clients, site: str) -> None:
    widget, conversation_id = shopper_with_email(clients, site)
    token = widget.get_received(W)[0]["args"][0]["token"]
    second = clients.widget({"site": site, "token": token})
    widget.disconnect(W)
    assert as_the_worker_sees_it(app, conversation_id) is True
    second.disconnect(W)
    assert as_the_worker_sees_it(app, conversation_id) is False


def test_the_refresh_writes_many_shoppers_in_short_transactions(
        app: Flask, clients: Clients, site: str, monkeypatch) -> None:
    """One UPDATE of every connected shopper held the write lock, and every chat message, for the
    whole of it (3,000 shoppers: ~50 ms every 20 s). Chunks with a pause between let chat in."""
    from sqlalchemy import event

    monkeypatch.setattr(online, "REFRESH_CHUNK", 2)
    for _ in range(5):
        shopper_with_email(clients, site)
    commits: list[int] = []
    pauses: list[int] = []
    engine = db_of(app).engine
    listener = lambda _conn: commits.append(1)  # noqa: E731
    event.listen(engine, "commit", listener)
    try:
        assert online.refresh(runtime_of(app), pause=lambda: pauses.append(len(commits))) == 5
    finally:
        event.remove(engine, "commit", listener)
    assert len(commits) == 3 and pauses == [1, 2]  # 2 + 2 + 1, a pause after each write but the last
    assert all(until is not None and until > utcnow() for until in marks(app))
