"""Socket.IO adapters for /widget (shoppers) and /console (agents): authenticate, call a service
in a unit of work per event, ack. Emits of stored things come from chat.relay after commit."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, emit, join_room, leave_room
from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from helpdesk.accounts import gate
from helpdesk.accounts.events import AgentAccessChanged
from helpdesk.accounts.models import Agent
from helpdesk.actors import agent_actor
from helpdesk.chat import assignment, context, guards, services, visitors
from helpdesk.chat import settings as settings_room
from helpdesk.chat.attachments import widget_message
from helpdesk.chat.models import ChatVisitor
from helpdesk.chat.presence import STATUSES, Gone
from helpdesk.chat.relay import (
    CONSOLE,
    CONSOLE_ROOM,
    WIDGET,
    announce_online,
    console_message,
    conversation_room,
    inbox_room,
    note_sender,
    online_for_inbox,
    send,
    shopper_message,
    to_shopper,
    visitor_room,
)
from helpdesk.db import Database, utcnow
from helpdesk.errors import DomainError, Forbidden, Invalid, RateLimited, Unauthorized, to_ack
from helpdesk.extensions import socketio
from helpdesk.marketing import consent
from helpdesk.runtime import Runtime, current_runtime, runtime_of
from helpdesk.tickets import services as tickets
from helpdesk.tickets.serialize import conversation_dict, message_dict
from helpdesk.web import close_session, db_session


@dataclass
class VisitorConn:
    visitor_id: int
    inbox_id: int
    name: str
    conversations: set[str] = field(default_factory=set)  # public ids it may type into
    customer_id: int | None = None
    site: str = ""
    going: str | None = None  # the conversation a message without conversation_id goes to
    # Public ids this (unverified) browser started: its key to them, kept so a message into one
    # needs no look-up of the start record (visitors.conversation_of).
    started: set[str] = field(default_factory=set)


@dataclass
class AgentConn:
    agent_id: int
    public_id: str
    name: str
    session_version: int
    role: str = ""


log = logging.getLogger(__name__)
# A connected visitor's presence mark lasts this long unless refreshed (chat/online.py): a web
# process that dies without clearing its marks stops counting within it.
CONNECTED_FOR_SECONDS = 50.0


@dataclass
class SocketState:
    """What this app's socket server holds in this process: the connected widgets and consoles and
    the agents' presence. Per app (on its runtime), so two apps in one process share none of it."""

    visitors: dict[str, VisitorConn] = field(default_factory=dict)
    agents: dict[str, AgentConn] = field(default_factory=dict)
    sweeping: bool = False  # the console session sweep of this app is running
    lock: threading.Lock = field(default_factory=threading.Lock)


def socket_state(runtime: Runtime) -> SocketState:
    return runtime.state("chat.sockets", SocketState)


def _state() -> SocketState:
    return socket_state(current_runtime())


def _db() -> Database:
    return current_app.extensions["helpdesk.db"]


def _max_body() -> int:
    return int(current_app.config["MAX_BODY_CHARS"])


def _refuse(exc: DomainError) -> ConnectionRefusedError:
    # The client's connect_error carries {message, data: {error: {code, message}}}.
    return ConnectionRefusedError(exc.message, exc.as_dict())


def acked(handler: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Map domain errors to the one ack shape; anything unexpected is logged, not leaked."""
    def wrapper(*args: Any) -> dict[str, Any]:
        try:
            return {"ok": True, **handler(*args)}
        except DomainError as exc:
            return to_ack(exc)
        except Exception:
            current_app.logger.exception("socket handler %s failed", handler.__name__)
            return {"ok": False, "error": {"code": "internal_error", "message": "something went wrong"}}
    wrapper.__name__ = handler.__name__
    return wrapper


# -- /widget ------------------------------------------------------------------------------------

def _visitor_conn() -> VisitorConn:
    conn = _state().visitors.get(request.sid)
    if conn is None:
        raise Unauthorized("connect with a site key first", code="not_connected")
    return conn


@contextmanager
def _visitor_work() -> Iterator[tuple[Session, Any]]:
    conn = _visitor_conn()
    with _db().unit_of_work() as session:
        yield session, visitors.visitor_by_id(session, conn.visitor_id)


@socketio.on("connect", namespace=WIDGET)
def widget_connect(auth: Any = None) -> None:
    auth = auth if isinstance(auth, dict) else {}
    try:
        guards.check_connect(auth)
        online_ids = guards.presence().online_agent_ids()  # before the transaction: it may ask Redis
        with _db().unit_of_work() as session:
            inbox = visitors.inbox_for_site(session, auth.get("site"))
            started = visitors.start(session, inbox, auth.get("token"), auth.get("identity"))
            visitor = started.visitor
            context.note(visitor, auth.get("page"), auth.get("referrer"), request.headers.get("User-Agent"))
            visitor.connected_until = utcnow() + timedelta(seconds=CONNECTED_FOR_SECONDS)
            customer = visitor.customer
            current = visitors.current_conversation(session, visitor)
            mine = visitors.conversations(session, visitor)
            payload = {
                "token": started.token,
                "visitor": {"id": visitor.public_id, "name": customer.name if customer else None,
                            "email": customer.email if customer else None, "verified": started.verified},
                "conversation": conversation_dict(current) if current else None,
                "conversations": [conversation_dict(c) for c in mine],  # verified: all; else its own
                "online": online_for_inbox(inbox, online_ids),
                "inbox": {"name": inbox.name, "prechat": bool((inbox.settings or {}).get("prechat")),
                          "consent": settings_room.consent_box(inbox)},
                # False: the shown conversation is closed for good, the next message starts another.
                "continues": services.continues(current, utcnow()),
            }
            conn = VisitorConn(visitor.id, inbox.id, customer.display_name if customer else "Visitor",
                               {c.public_id for c in mine}, visitor.customer_id, inbox.site_key or "",
                               current.public_id if services.continues(current, utcnow()) else None,
                               set() if visitor.verified else {c.public_id for c in mine})
    except DomainError as exc:
        raise _refuse(exc) from None
    _state().visitors[request.sid] = conn
    _keep_presence_alive()  # any live process clears a dead one's agents and tells its shoppers
    join_room(visitor_room(conn.visitor_id))
    join_room(inbox_room(conn.inbox_id))
    emit("session", payload)


@socketio.on("disconnect", namespace=WIDGET)
def widget_disconnect(*_args: Any) -> None:
    visitors = _state().visitors
    conn = visitors.pop(request.sid, None)
    if conn is None or any(c.visitor_id == conn.visitor_id for c in list(visitors.values())):
        return
    try:  # the shopper's last tab here closed: the worker must not see them as online any more
        with _db().unit_of_work() as session:
            session.execute(update(ChatVisitor).where(ChatVisitor.id == conn.visitor_id)
                            .values(connected_until=None))
    except Exception:  # without this write the mark runs out by itself (CONNECTED_FOR_SECONDS)
        log.warning("marking visitor %s as gone failed", conn.visitor_id, exc_info=True)


@socketio.on("message:send", namespace=WIDGET)
@acked
def widget_send(data: Any = None) -> dict[str, Any]:
    conn = _visitor_conn()
    opens = not (isinstance(data, dict) and data.get("conversation_id")) and conn.going is None
    try:
        guards.check_send(conn.visitor_id, conn.site, opens_conversation=opens)
    except RateLimited as error:
        emit("error", error.as_dict())
        raise
    # Who is online decides only where a new conversation goes: fresh then, else a second old will do.
    online_ids = guards.presence().online_agent_ids(max_age=0.0 if opens else 1.0)
    with _visitor_work() as (session, visitor):
        note_sender(session, request.sid, data)
        message = services.visitor_send(session, visitor, data, online_agent_ids=online_ids, max_len=_max_body(),
                                        started=conn.started)
        result = shopper_message(session, message, current_app.secret_key)  # the emit reuses it
        if not visitor.verified:  # it wrote into one it started (checked) or just opened (recorded)
            conn.started.add(result["conversation_id"])
    conn.conversations.add(result["conversation_id"])
    conn.going = result["conversation_id"]
    return {"message": result}


@socketio.on("history", namespace=WIDGET)
@acked
def widget_history(data: Any = None) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    guards.check_history(_visitor_conn().visitor_id)
    limit, max_chars = guards.history_limits()
    with _visitor_work() as (session, visitor):
        conversation = visitors.conversation_of(session, visitor, data.get("conversation_id"))
        messages, more = services.history_page(session, conversation, data.get("after_seq", 0), limit=limit,
                                               max_chars=max_chars)
        return {"messages": [widget_message(m, current_app.secret_key) for m in messages], "has_more": more,
                "conversation": conversation_dict(conversation)}


@socketio.on("typing", namespace=WIDGET)
def widget_typing(data: Any = None) -> None:
    conn = _state().visitors.get(request.sid)
    if conn is None or not isinstance(data, dict) or data.get("conversation_id") not in conn.conversations:
        return
    if not guards.typing_allowed(conn.visitor_id):
        return
    socketio.emit("typing", {"conversation_id": data["conversation_id"], "typing": bool(data.get("typing")),
                             "author": {"type": "customer", "name": conn.name}},
                  namespace=CONSOLE, to=conversation_room(data["conversation_id"]))


@socketio.on("contact:update", namespace=WIDGET)
@acked
def widget_contact(data: Any = None) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    conn = _visitor_conn()
    guards.check_flood(conn.visitor_id, "too many changes; wait a few seconds and try again")
    with _visitor_work() as (session, visitor):
        customer = visitors.update_contact(session, visitor, email=data.get("email"), name=data.get("name"))
        if "marketing_consent" in data:  # the pre-chat form's box, when the shop asks for it
            settings_room.record_consent(session, visitor, customer, data["marketing_consent"],
                                         sync=consent.mailchimp_on(current_app.config))
        conn.name = customer.display_name
        conn.customer_id = customer.id
        return {"visitor": {"id": visitor.public_id, "name": customer.name, "email": customer.email}}


@socketio.on("csat:submit", namespace=WIDGET)
@acked
def widget_csat(data: Any = None) -> dict[str, Any]:
    """Recorded through the "csat.submit" capability of the tickets room (see chat/__init__.py)."""
    from helpdesk.chat import CsatUnavailable

    data = data if isinstance(data, dict) else {}
    score = data.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise Invalid("score", "a whole number from 1 to 5")
    comment = data.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > 2000):
        raise Invalid("comment", "text of at most 2000 characters")
    with _visitor_work() as (session, visitor):
        conversation = visitors.conversation_of(session, visitor, data.get("conversation_id"))
        submit = current_runtime().capability("csat.submit")
        if submit is None:
            raise CsatUnavailable("satisfaction ratings are not set up on this helpdesk")
        submit(session, visitors.actor_of(session, visitor), conversation, score, comment)
    return {}


# -- /console -----------------------------------------------------------------------------------

def _origin_allowed(origin: str | None) -> bool:
    """Browsers always send Origin on sockets; a page of another site must not ride our cookie."""
    if not origin:
        return True  # not a browser: it can only hold a session cookie it was given
    allowed = {_origin_of(current_app.config.get("BASE_URL") or ""), _origin_of(request.host_url)}
    return _origin_of(origin) in allowed


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def agent_room(agent_id: int) -> str:
    return f"agent:{agent_id}"


def _session_ended(sid: str) -> Unauthorized:
    """Refuse the event and close the socket (after the ack has gone out: call it only where
    nothing switches greenlets before the handler returns)."""
    socketio.start_background_task(_drop, sid)
    return Unauthorized("your login session has ended", code="not_logged_in")


def _drop(sid: str) -> None:
    socketio.server.disconnect(sid, namespace=CONSOLE)


def _still_valid(conn: AgentConn, agent: Row[Any] | None) -> bool:
    return agent is not None and agent.active and agent.session_version == conn.session_version \
        and agent.role.value == conn.role


def _agent_conn() -> AgentConn:
    """The socket's agent, re-checked against the database: a socket that missed the disconnect
    of a logout, disable, password or role change can neither send nor read any more."""
    conn = _state().agents.get(request.sid)
    if conn is None:
        raise Unauthorized("log in first", code="not_logged_in")
    with _db().unit_of_work() as session:
        valid = _still_valid(conn, _agent_row(session, conn.agent_id))
    if not valid:
        raise _session_ended(request.sid)
    return conn


# The agent's row, re-read on every console event: what the check and the Actor need, as a plain
# row (an ORM Agent per event, in a session that starts empty, was 5 % of a chat message's CPU).
_AGENTS = Agent.__table__.c
_AGENT = select(_AGENTS.id, _AGENTS.name, _AGENTS.role, _AGENTS.active, _AGENTS.session_version).where(
    _AGENTS.id == bindparam("agent_id"))


def _agent_row(session: Session, agent_id: int) -> Row[Any] | None:
    return session.connection().execute(_AGENT, {"agent_id": agent_id}).first()


@contextmanager
def _agent_work() -> Iterator[tuple[Session, Row[Any]]]:
    conn = _state().agents.get(request.sid)
    if conn is None:
        raise Unauthorized("log in first", code="not_logged_in")
    with _db().unit_of_work() as session:
        agent = _agent_row(session, conn.agent_id)
        if _still_valid(conn, agent):
            yield session, agent  # type: ignore[misc]
            return
    # Refused outside the unit of work: closing it may switch greenlets (PostgreSQL under gevent),
    # and the scheduled disconnect must not overtake the ack.
    raise _session_ended(request.sid)


def end_agent_sockets(ev: AgentAccessChanged) -> None:
    """After a logout, disable, password or role change: close the agent's console sockets.

    Sockets of this process close at once. The `session:ended` emit goes through the message
    queue to every process, and the console page closes its socket on it; a socket of another
    process whose page does not is closed by that process's sweep within SWEEP_SECONDS."""
    room = agent_room(ev.agent_id)
    socketio.emit("session:ended", {"reason": ev.reason}, namespace=CONSOLE, to=room)
    for sid, _eio_sid in list(socketio.server.manager.get_participants(CONSOLE, room)):
        socketio.server.disconnect(sid, namespace=CONSOLE)


SWEEP_SECONDS = 2.0


def _ensure_sweep(app: Flask) -> None:
    state = socket_state(runtime_of(app))
    with state.lock:
        if state.sweeping:
            return
        state.sweeping = True
    socketio.start_background_task(_sweep, app)


def _sweep(app: Flask) -> None:
    """Close this process's console sockets whose agent's session ended or role changed; runs
    while the process has console sockets of `app`, one small query per round."""
    state = socket_state(runtime_of(app))
    try:
        while True:
            socketio.sleep(SWEEP_SECONDS)
            with state.lock:
                conns = dict(state.agents)
                if not conns:
                    state.sweeping = False
                    return
            with app.app_context():
                database: Database = app.extensions["helpdesk.db"]
                with database.unit_of_work() as session:
                    ids = {c.agent_id for c in conns.values()}
                    agents = {a.id: a for a in session.scalars(select(Agent).where(Agent.id.in_(ids)))}
                    stale = [sid for sid, c in conns.items() if not _still_valid(c, agents.get(c.agent_id))]
            for sid in stale:
                socketio.server.disconnect(sid, namespace=CONSOLE)
    except Exception:
        app.logger.exception("the console session sweep failed")
        with state.lock:
            state.sweeping = False


@socketio.on("connect", namespace=CONSOLE)
def console_connect(_auth: Any = None) -> None:
    if not _origin_allowed(request.headers.get("Origin")):
        raise _refuse(Forbidden("connections from this origin are refused", code="foreign_origin"))
    if (refusal := gate.console_refusal(db_session(), current_user)) is not None:
        raise _refuse(refusal)
    conn = AgentConn(current_user.id, current_user.public_id, current_user.name, current_user.session_version,
                     current_user.role.value)
    # flask-login loaded the agent in the request's session: end it now, or on SQLite its open
    # transaction would hold the write lock against our own unit of work below.
    close_session()
    _state().agents[request.sid] = conn
    join_room(CONSOLE_ROOM)
    join_room(agent_room(conn.agent_id))
    _ensure_sweep(current_app._get_current_object())
    came_online = guards.presence().connect(request.sid, conn.agent_id, conn.public_id, conn.name)
    _keep_presence_alive()
    emit("session", {"agent": {"id": conn.public_id, "name": conn.name,
                               "status": guards.presence().status_of(conn.agent_id)},
                     "agents": guards.presence().roster()})
    if came_online:
        _presence_changed(conn)


def _keep_presence_alive() -> None:
    """With Redis, start this process's presence heartbeat (once): agents whose process died are
    announced offline to consoles and widgets by whichever live process notices first."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def announce(gone: list[Gone]) -> None:
        with app.app_context():
            for agent in gone:
                _presence_changed(AgentConn(agent.agent_id, agent.public_id, agent.name, 0))
                for conversation_id in agent.conversations:
                    _emit_viewers(conversation_id)

    guards.presence().ensure_heartbeat(socketio.start_background_task, socketio.sleep, announce)


def _presence_changed(conn: AgentConn) -> None:
    socketio.emit("presence", {"agent": {"id": conn.public_id, "name": conn.name},
                               "status": guards.presence().status_of(conn.agent_id)},
                  namespace=CONSOLE, to=CONSOLE_ROOM)
    online_ids = guards.presence().online_agent_ids()
    with _db().unit_of_work() as session:
        emits = announce_online(session, online_ids)
    send(emits)


@socketio.on("disconnect", namespace=CONSOLE)
def console_disconnect(*_args: Any) -> None:
    conn = _state().agents.pop(request.sid, None)
    if conn is None:
        return
    went_offline, left = guards.presence().disconnect(request.sid, conn.agent_id)
    for conversation_id in left:
        _emit_viewers(conversation_id)
    if went_offline:
        _presence_changed(conn)


def _emit_viewers(conversation_id: str) -> None:
    socketio.emit("viewers", {"conversation_id": conversation_id,
                              "agents": guards.presence().viewers(conversation_id)},
                  namespace=CONSOLE, to=conversation_room(conversation_id))


@socketio.on("subscribe", namespace=CONSOLE)
@acked
def console_subscribe(data: Any = None) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    with _agent_work() as (session, agent):
        conversation = tickets.get_conversation(session, str(data.get("conversation_id") or ""),
                                                agent_actor(agent))
        messages = services.history(session, conversation, data.get("after_seq", 0), for_agent=True)
        result = {"conversation": conversation_dict(conversation, for_agent=True),
                  "messages": [message_dict(m, for_agent=True) for m in messages]}
    public_id = result["conversation"]["id"]
    join_room(conversation_room(public_id))
    guards.presence().view(public_id, request.sid, agent.id)
    _emit_viewers(public_id)
    return result


@socketio.on("unsubscribe", namespace=CONSOLE)
@acked
def console_unsubscribe(data: Any = None) -> dict[str, Any]:
    _agent_conn()
    conversation_id = str((data or {}).get("conversation_id") or "") if isinstance(data, dict) else ""
    leave_room(conversation_room(conversation_id))
    guards.presence().leave(conversation_id, request.sid)
    _emit_viewers(conversation_id)
    return {}


@socketio.on("message:send", namespace=CONSOLE)
@acked
def console_send(data: Any = None) -> dict[str, Any]:
    with _agent_work() as (session, agent):
        note_sender(session, request.sid, data)
        message = services.agent_send(session, agent_actor(agent), data, max_len=_max_body())
        return {"message": console_message(session, message)}  # the emit reuses it


@socketio.on("history", namespace=CONSOLE)
@acked
def console_history(data: Any = None) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    with _agent_work() as (session, agent):
        conversation = tickets.get_conversation(session, str(data.get("conversation_id") or ""),
                                                agent_actor(agent))
        messages = services.history(session, conversation, data.get("after_seq", 0), for_agent=True)
        return {"messages": [message_dict(m, for_agent=True) for m in messages]}


@socketio.on("typing", namespace=CONSOLE)
def console_typing(data: Any = None) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("conversation_id"), str):
        return
    try:
        conn = _agent_conn()
    except DomainError:
        return
    conversation_id = data["conversation_id"]
    typing = {"conversation_id": conversation_id, "typing": bool(data.get("typing")),
              "author": {"type": "agent", "name": conn.name, "id": conn.public_id}}
    socketio.emit("typing", typing, namespace=CONSOLE, to=conversation_room(conversation_id),
                  skip_sid=request.sid)
    if data.get("private"):
        return  # writing a private note is nobody's business outside the team
    with _db().unit_of_work() as session:
        conversation = tickets.get_conversation(session, conversation_id)
        emits = to_shopper(session, conversation, "typing",
                           {**typing, "author": {"type": "agent", "name": conn.name}})
    send(emits)


@socketio.on("presence", namespace=CONSOLE)
@acked
def console_presence(data: Any = None) -> dict[str, Any]:
    conn = _agent_conn()
    status = (data or {}).get("status") if isinstance(data, dict) else None
    if status not in STATUSES:
        raise Invalid("status", "online or away")
    guards.presence().set_status(conn.agent_id, status)
    _presence_changed(conn)
    return {"status": status}


@socketio.on("claim", namespace=CONSOLE)
@acked
def console_claim(data: Any = None) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    with _agent_work() as (session, agent):
        actor = agent_actor(agent)
        conversation = tickets.get_conversation(session, str(data.get("conversation_id") or ""), actor)
        assignment.claim(session, actor, conversation)
        return {"conversation": conversation_dict(conversation, for_agent=True)}


# The widget's orders:* events live in their own module and must be registered whenever these are:
# a handler added to socketio after its first init_app reaches only that app's server.
from helpdesk.chat import orders as _orders  # noqa: E402, F401
