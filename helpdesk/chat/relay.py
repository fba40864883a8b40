"""Ticket events to socket traffic, after commit: the only place chat emits what was stored."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from helpdesk import events
from helpdesk.chat import visitors
from helpdesk.chat.attachments import signed_url
from helpdesk.db import Database
from helpdesk.events import Event
from helpdesk.extensions import socketio
from helpdesk.orders.events import OrderActionFinished, OrderLinked
from helpdesk.tickets.events import ConversationCreated, ConversationUpdated, DeliveryChanged, MessagePosted
from helpdesk.tickets.models import Channel, Conversation, Inbox, Message
from helpdesk.tickets.serialize import conversation_dict, message_dict
from helpdesk.tickets.services import ROW_LOADS

log = logging.getLogger(__name__)

WIDGET = "/widget"
CONSOLE = "/console"
CONSOLE_ROOM = "console"


def visitor_room(visitor_id: int) -> str:
    return f"visitor:{visitor_id}"


def to_shopper(session: Session, conversation: Conversation, event: str, data: Any) -> list[Emit]:
    """One emit per browser of the conversation's shopper (a visitor's room holds all its tabs)."""
    return [Emit(event, data, WIDGET, visitor_room(visitor_id))
            for visitor_id in visitors.visitor_ids_of(session, conversation)]


def inbox_room(inbox_id: int) -> str:
    return f"inbox:{inbox_id}"


def conversation_room(public_id: str) -> str:
    return f"conversation:{public_id}"


def online_for_inbox(inbox: Inbox, online_agent_ids: set[int]) -> bool:
    """Someone can answer: an online member, or any online agent when the inbox lists nobody."""
    members = {a.id for a in inbox.members if a.active}
    return bool(online_agent_ids & members) if members else bool(online_agent_ids)


def announce_online(session: Session, online_agent_ids: set[int]) -> list[Emit]:
    return [Emit("agents:online", {"online": online_for_inbox(inbox, online_agent_ids)}, WIDGET,
                 inbox_room(inbox.id))
            for inbox in session.scalars(select(Inbox).filter_by(channel=Channel.chat)
                                         .options(selectinload(Inbox.members)))]


@dataclass(frozen=True)
class Emit:
    event: str
    data: Any
    namespace: str
    room: str
    batched: bool = False  # {conversation_id, changes?}: its CONVERSATION row goes to every console with the tick
    skip_sid: str | None = None  # the socket that sent the message: its ack carried it already


def send(emits: list[Emit]) -> None:
    """Emit outside any transaction: with Redis an emit is network I/O, and a greenlet that yields
    while holding SQLite's write lock stalls every other greenlet of the process."""
    for item in emits:
        if item.batched:
            ROWS.add(item.data["conversation_id"], item.data.get("changes"))
            continue
        socketio.emit(item.event, item.data, namespace=item.namespace, to=item.room, skip_sid=item.skip_sid)


# -- the sending socket ---------------------------------------------------------------------------
# The socket that sent a message gets it in its ack; its own `message:new` was a second frame per
# message (the sender's other tabs and consoles still get theirs). The socket adapter names itself
# and the message it sends on the session; nothing else posted in that transaction is skipped.

_SENDER = "helpdesk.chat.sender"


def note_sender(session: Session, sid: str, data: Any) -> None:
    client_msg_id = data.get("client_msg_id") if isinstance(data, dict) else None
    if isinstance(client_msg_id, str):
        session.info[_SENDER] = (sid, client_msg_id)


def _sender_of(session: Session, message: Message) -> str | None:
    sender = session.info.get(_SENDER)
    return sender[0] if sender and message.client_msg_id == sender[1] else None


# -- the consoles' rows, batched per tick -------------------------------------------------------
# Every chat message changes its conversation's row in every agent's queue. Sent one by one that
# was 20 WebSocket frames per message with 20 agents online (a fifth of the server's CPU under
# load, bench/README.md); now the rows of a tick go out as one `conversations:updated` frame per
# console, each conversation's row as committed when the tick fires. Status, assignment and other
# changes ride the same tick, their `changes` merged ({field: [before the tick, after it]}): a
# burst of new chats taken on their first reply was one frame per agent per conversation.
# A message's transaction only names its conversation: the rows are read once per tick, in one
# read-only query, instead of loading inbox, customer, agent, team and tags with every message.

ROW_TICK_SECONDS = 0.1
MAX_ROWS_PER_FRAME = 200  # a frame stays small; more rows in a tick go out as several frames


class RowBatch:
    """The conversations whose rows wait for this process's next tick (one flush scheduled at a time)."""

    def __init__(self) -> None:
        self.pending: dict[int, dict[str, list[Any]]] = {}  # conversation id -> the tick's changes
        self.scheduled = False
        self.lock = threading.Lock()
        self.database: Database | None = None  # set by wire(): where the tick reads the rows

    def add(self, conversation_id: int, changes: dict[str, list[Any]] | None = None) -> None:
        with self.lock:
            self.pending[conversation_id] = _merged(self.pending.get(conversation_id), changes)
            if self.scheduled:
                return
            self.scheduled = True
        socketio.start_background_task(self._flush_later)

    def clear(self) -> None:
        with self.lock:
            self.pending.clear()

    def _flush_later(self) -> None:
        socketio.sleep(ROW_TICK_SECONDS)
        self.flush()

    def flush(self) -> None:
        with self.lock:
            pending, self.pending, self.scheduled = self.pending, {}, False
        if not pending or self.database is None:
            return
        try:  # a queue row is a convenience: a failed tick is refreshed by the next change
            rows = self.rows(pending)
            for start in range(0, len(rows), MAX_ROWS_PER_FRAME):
                socketio.emit("conversations:updated", {"conversations": rows[start:start + MAX_ROWS_PER_FRAME]},
                              namespace=CONSOLE, to=CONSOLE_ROOM)
        except Exception:
            log.exception("sending the consoles' rows failed")

    def rows(self, pending: dict[int, dict[str, list[Any]]]) -> list[dict[str, Any]]:
        assert self.database is not None
        rows = []
        with self.database.reading() as session:
            for conversation in session.scalars(_ROWS_OF, {"ids": list(pending)}).unique():
                row = conversation_dict(conversation, for_agent=True)
                if changes := pending[conversation.id]:
                    row["changes"] = changes
                rows.append(row)
        return rows


_ROWS_OF = select(Conversation).where(Conversation.id.in_(bindparam("ids", expanding=True))).options(*ROW_LOADS)


ROWS = RowBatch()


def _merged(first: dict[str, list[Any]] | None, then: dict[str, list[Any]] | None) -> dict[str, list[Any]]:
    """Two rows' `changes` as one: each field from its value before the first to its value after the last."""
    merged = dict(first or {})
    for field_name, (before, after) in (then or {}).items():
        merged[field_name] = [merged[field_name][0] if field_name in merged else before, after]
    return merged


def _widget_sees(conversation: Conversation) -> bool:
    return conversation.channel is Channel.chat


# -- payloads, built once per transaction ------------------------------------------------------
# A message's socket traffic is built inside the transaction that wrote it, from the objects that
# transaction already holds, and sent after the commit (an Outbox event). Before, every listener
# opened a session of its own after the commit and read the message, its conversation, customer,
# inbox and tags again, once per audience (~44 % of the server's CPU under chat load).

_CACHE = "helpdesk.chat.payloads"
_AGENT_ONLY = ("private", "delivery", "delivery_error")


def _cache(session: Session) -> dict[tuple[str, int], Any]:
    # Per transaction, not per session: a session that commits twice (a request, a job) must not
    # send the first transaction's conversation row for the second.
    transaction = session.get_transaction()
    held = session.info.get(_CACHE)
    if held is None or held[0] is not transaction:
        held = session.info[_CACHE] = (transaction, {})
    return held[1]


def console_message(session: Session, message: Message) -> dict[str, Any]:
    """The console's MESSAGE of `message`, built once per transaction (the ack and the emit share it)."""
    cache = _cache(session)
    key = ("console", message.id)
    if key not in cache:
        cache[key] = message_dict(message, for_agent=True)
    return cache[key]


def shopper_message(session: Session, message: Message, secret: str) -> dict[str, Any]:
    """The widget's MESSAGE: the console's without the agent-only fields, attachment links signed."""
    cache = _cache(session)
    key = ("widget", message.id)
    if key not in cache:
        data = {k: v for k, v in console_message(session, message).items() if k not in _AGENT_ONLY}
        if data["attachments"]:
            data["attachments"] = [{**a, "url": signed_url(secret, a["id"])} for a in data["attachments"]]
        cache[key] = data
    return cache[key]


def console_row(session: Session, conversation: Conversation) -> dict[str, Any]:
    """The console's CONVERSATION row, as the transaction leaves it."""
    cache = _cache(session)
    key = ("row", conversation.id)
    if key not in cache:
        cache[key] = conversation_dict(conversation, for_agent=True)
    return cache[key]


def shopper_rooms(session: Session, conversation: Conversation) -> list[str]:
    cache = _cache(session)
    key = ("rooms", conversation.id)
    if key not in cache:
        cache[key] = [visitor_room(v) for v in visitors.visitor_ids_of(session, conversation)]
    return cache[key]


@dataclass(frozen=True)
class Outbox(Event):
    """Socket traffic built inside a transaction, sent after it commits (never if it rolls back)."""

    emits: tuple[Emit, ...]


def _post(session: Session, emits: list[Emit]) -> None:
    if emits:
        events.record(session, Outbox(tuple(emits)))


def _conversation(session: Session, conversation_id: int) -> Conversation | None:
    return session.get(Conversation, conversation_id)  # the identity map has it: no query


def wire(app: Flask) -> None:
    dispatcher = app.extensions["helpdesk.dispatcher"]
    database: Database = app.extensions["helpdesk.db"]
    ROWS.database = database  # this process's app: the tick reads its rows there

    def guarded(build: Callable[[Session, Any], list[Emit]]) -> Callable[[Session, Any], None]:
        # Building socket traffic must never cost the change itself: log and send nothing.
        def handler(session: Session, ev: Any) -> None:
            try:
                _post(session, build(session, ev))
            except Exception:
                log.exception("building the socket traffic of %r failed", ev)
        return handler

    def message_posted(session: Session, ev: MessagePosted) -> list[Emit]:
        if ev.channel != Channel.chat.value:
            return []  # email: after the commit (below), once outbound mail has set its delivery
        message = session.get(Message, ev.message_id)
        if message is None:
            return []
        conversation = message.conversation
        sender = _sender_of(session, message)
        emits = [Emit("message:new", console_message(session, message), CONSOLE,
                      conversation_room(conversation.public_id), skip_sid=sender),
                 Emit("conversation:updated", {"conversation_id": conversation.id}, CONSOLE, CONSOLE_ROOM,
                      batched=True)]
        if not message.private and _widget_sees(conversation):
            payload = shopper_message(session, message, app.secret_key)
            emits += [Emit("message:new", payload, WIDGET, room, skip_sid=sender)
                      for room in shopper_rooms(session, conversation)]
        return emits

    def conversation_created(session: Session, ev: ConversationCreated) -> list[Emit]:
        conversation = _conversation(session, ev.conversation_id)
        if conversation is None:
            return []
        return [Emit("conversation:new", console_row(session, conversation), CONSOLE, CONSOLE_ROOM)]

    def conversation_updated(session: Session, ev: ConversationUpdated) -> list[Emit]:
        conversation = _conversation(session, ev.conversation_id)
        if conversation is None:
            return []
        emits = [Emit("conversation:updated", {"conversation_id": conversation.id, "changes": ev.changes}, CONSOLE,
                      CONSOLE_ROOM, batched=True)]
        if _widget_sees(conversation):
            row = conversation_dict(conversation)
            emits += [Emit("conversation:updated", row, WIDGET, room) for room in shopper_rooms(session, conversation)]
        return emits

    def email_message_posted(ev: MessagePosted) -> None:
        # Not the chat's hot path: the email room's before-commit hook may still change the
        # message (Message-ID, delivery) after the in-transaction builders ran, so read it back.
        if ev.channel == Channel.chat.value:
            return
        with database.sessions() as session:
            message = session.get(Message, ev.message_id)
            if message is None:
                return
            emits = [Emit("message:new", message_dict(message, for_agent=True), CONSOLE,
                          conversation_room(message.conversation.public_id)),
                     Emit("conversation:updated", {"conversation_id": message.conversation_id}, CONSOLE,
                          CONSOLE_ROOM, batched=True)]
        send(emits)

    def delivery_changed(ev: DeliveryChanged) -> None:
        with database.sessions() as session:
            message = session.get(Message, ev.message_id)
            if message is None:
                return
            data = {"conversation_id": message.conversation.public_id, "seq": message.seq,
                    "delivery": ev.delivery, "delivery_error": message.delivery_error}
            emits = [Emit("message:updated", data, CONSOLE, conversation_room(message.conversation.public_id))]
        send(emits)

    def order_linked(ev: OrderLinked | OrderActionFinished) -> None:
        # Agents watching the conversation reload its orders card (a shopper picked one, the
        # recogniser offered one, a refund came back from the shop): the card is server-rendered,
        # so only a nudge goes out.
        if ev.conversation_id is None:
            return
        with database.sessions() as session:
            conversation = session.get(Conversation, ev.conversation_id)
            if conversation is None:
                return
            emits = [Emit("orders:changed", {"conversation_id": conversation.public_id}, CONSOLE,
                          conversation_room(conversation.public_id))]
        send(emits)

    dispatcher.subscribe_in_transaction(MessagePosted, guarded(message_posted))
    dispatcher.subscribe_in_transaction(ConversationCreated, guarded(conversation_created))
    dispatcher.subscribe_in_transaction(ConversationUpdated, guarded(conversation_updated))
    dispatcher.subscribe(Outbox, lambda ev: send(list(ev.emits)))
    dispatcher.subscribe(MessagePosted, email_message_posted)
    dispatcher.subscribe(DeliveryChanged, delivery_changed)
    dispatcher.subscribe(OrderLinked, order_linked)
    dispatcher.subscribe(OrderActionFinished, order_linked)
