"""Ticket events to socket traffic, after commit: the only place chat emits what was stored."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from helpdesk.chat import visitors
from helpdesk.chat.attachments import widget_message
from helpdesk.db import Database
from helpdesk.extensions import socketio
from helpdesk.orders.events import OrderLinked
from helpdesk.tickets.events import ConversationCreated, ConversationUpdated, DeliveryChanged, MessagePosted
from helpdesk.tickets.models import Channel, Conversation, Inbox, Message
from helpdesk.tickets.serialize import conversation_dict, message_dict

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


def send(emits: list[Emit]) -> None:
    """Emit outside any transaction: with Redis an emit is network I/O, and a greenlet that yields
    while holding SQLite's write lock stalls every other greenlet of the process."""
    for item in emits:
        socketio.emit(item.event, item.data, namespace=item.namespace, to=item.room)


def _widget_sees(conversation: Conversation) -> bool:
    return conversation.channel is Channel.chat


def wire(app: Flask) -> None:
    dispatcher = app.extensions["helpdesk.dispatcher"]
    database: Database = app.extensions["helpdesk.db"]

    def message_posted(ev: MessagePosted) -> None:
        with database.sessions() as session:
            message = session.get(Message, ev.message_id)
            if message is None:
                return
            conversation = message.conversation
            emits = [Emit("message:new", message_dict(message, for_agent=True), CONSOLE,
                          conversation_room(conversation.public_id)),
                     Emit("conversation:updated", conversation_dict(conversation, for_agent=True), CONSOLE,
                          CONSOLE_ROOM)]
            if not message.private and _widget_sees(conversation):
                emits += to_shopper(session, conversation, "message:new",
                                    widget_message(message, app.secret_key))
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

    def order_linked(ev: OrderLinked) -> None:
        # Agents watching the conversation reload its orders card (a shopper picked one, the
        # recogniser offered one): the card is server-rendered, so only a nudge goes out.
        with database.sessions() as session:
            conversation = session.get(Conversation, ev.conversation_id)
            if conversation is None:
                return
            emits = [Emit("orders:changed", {"conversation_id": conversation.public_id}, CONSOLE,
                          conversation_room(conversation.public_id))]
        send(emits)

    def conversation_created(ev: ConversationCreated) -> None:
        with database.sessions() as session:
            conversation = session.get(Conversation, ev.conversation_id)
            if conversation is None:
                return
            emits = [Emit("conversation:new", conversation_dict(conversation, for_agent=True), CONSOLE,
                          CONSOLE_ROOM)]
        send(emits)

    def conversation_updated(ev: ConversationUpdated) -> None:
        with database.sessions() as session:
            conversation = session.get(Conversation, ev.conversation_id)
            if conversation is None:
                return
            data: dict[str, Any] = conversation_dict(conversation, for_agent=True)
            data["changes"] = ev.changes
            emits = [Emit("conversation:updated", data, CONSOLE, CONSOLE_ROOM)]
            if _widget_sees(conversation):
                emits += to_shopper(session, conversation, "conversation:updated",
                                    conversation_dict(conversation))
        send(emits)

    dispatcher.subscribe(MessagePosted, message_posted)
    dispatcher.subscribe(ConversationCreated, conversation_created)
    dispatcher.subscribe(ConversationUpdated, conversation_updated)
    dispatcher.subscribe(DeliveryChanged, delivery_changed)
    dispatcher.subscribe(OrderLinked, order_linked)
