"""Which orders a conversation is about: linked by hand, recognised in the text, picked by the shopper."""

from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from helpdesk import events
from helpdesk.actors import SYSTEM, Actor
from helpdesk.errors import Forbidden, Invalid, NotFound
from helpdesk.orders.events import OrderLinked
from helpdesk.orders.models import ConversationOrder, LinkState, Order
from helpdesk.tickets import search
from helpdesk.tickets.models import Conversation, Message

MAX_NUMBERS_PER_MESSAGE = 5
# "#1001", "# 1001", "order 1001", "order no. 1001", "order number: 1001", "Bestellung #1001".
ORDER_NUMBER = re.compile(
    r"(?:#\s?|\border\s*(?:no\.?|nr\.?|number|num|id)?\s*[:#]?\s*)(\d{3,12})\b", re.IGNORECASE)


def mentions_order_number(text: str | None) -> bool:
    """Does `text` hold a candidate number at all (the pre-check on every chat message)?"""
    return bool(text) and ORDER_NUMBER.search(text) is not None


def find_order_numbers(text: str) -> list[str]:
    """Order numbers written in a message, in order of appearance, without repeats."""
    seen: list[str] = []
    for match in ORDER_NUMBER.finditer(text or ""):
        number = match.group(1)
        if number not in seen:
            seen.append(number)
        if len(seen) >= MAX_NUMBERS_PER_MESSAGE:
            break
    return seen


def orders_by_number(session: Session, number: str, limit: int = 10) -> list[Order]:
    number = number.strip().lstrip("#").strip()
    if not number:
        return []
    return list(session.scalars(select(Order).where(or_(Order.number == number, Order.name == f"#{number}"))
                                .order_by(Order.placed_at.desc()).limit(limit)))


def _link(session: Session, conversation: Conversation, order: Order) -> ConversationOrder | None:
    return session.scalar(select(ConversationOrder).filter_by(conversation_id=conversation.id, order_id=order.id))


def _set(session: Session, actor: Actor, conversation: Conversation, order: Order, state: LinkState,
         source: str) -> ConversationOrder:
    link = _link(session, conversation, order)
    if link is None:
        link = ConversationOrder(conversation_id=conversation.id, order_id=order.id, order=order)
        session.add(link)
    elif link.state == state:
        return link
    link.state = state
    link.source = source
    link.agent_id = actor.id if actor.is_agent else None
    session.flush()
    # A linked order's number finds the conversation in search; a suggested or dismissed one not.
    search.set_extra(session, conversation.id, f"o{order.id}",
                     f"{order.number} {order.name}" if state == LinkState.linked else None)
    events.record(session, OrderLinked(conversation.id, order.id, state.value, source))
    return link


def link_order(session: Session, actor: Actor, conversation: Conversation, order: Order,
               source: str = "agent") -> ConversationOrder:
    if not actor.is_agent and actor.type != "system":
        raise Forbidden("only agents link orders by hand")
    return _set(session, actor, conversation, order, LinkState.linked, source)


def unlink_order(session: Session, actor: Actor, conversation: Conversation, order: Order) -> ConversationOrder:
    """Unlink, and remember it: recognition must not link the same order again."""
    if not actor.is_agent:
        raise Forbidden("only agents unlink orders")
    if _link(session, conversation, order) is None:
        raise NotFound("that order is not linked to this conversation")
    return _set(session, actor, conversation, order, LinkState.dismissed, "agent")


def shopper_pick_order(session: Session, actor: Actor, conversation: Conversation, order: Order) -> ConversationOrder:
    """A verified shopper asks about one of their own orders (the widget's order picker)."""
    if actor.type != "customer" or conversation.customer_id != actor.id or order.customer_id != actor.id:
        raise NotFound("no such order")
    return _set(session, actor, conversation, order, LinkState.linked, "shopper")


def link_for_shopper(session: Session, conversation: Conversation, order: Order) -> ConversationOrder:
    """Link an order the shopper has proved is theirs (verified, or its number and email) to the
    conversation their widget request went into. The caller made that check."""
    return _set(session, SYSTEM, conversation, order, LinkState.linked, "shopper")


def recognise(session: Session, actor: Actor, conversation: Conversation, text: str) -> list[ConversationOrder]:
    """Orders named in `text`: linked when they are the conversation customer's, offered otherwise.

    A link an agent already decided on (linked or dismissed) is left as it is.
    """
    found = []
    for number in find_order_numbers(text):
        for order in orders_by_number(session, number, limit=3):
            existing = _link(session, conversation, order)
            if existing is not None and existing.state != LinkState.suggested:
                continue
            mine = order.customer_id is not None and order.customer_id == conversation.customer_id
            state = LinkState.linked if mine else LinkState.suggested
            found.append(_set(session, actor, conversation, order, state, "auto"))
    return found


def recognise_message(session: Session, actor: Actor, message_id: int) -> list[ConversationOrder]:
    message = session.get(Message, message_id)
    if message is None:
        return []
    return recognise(session, actor, message.conversation, message.body_text)


def links(session: Session, conversation: Conversation, state: LinkState) -> list[Order]:
    return list(session.scalars(
        select(Order).join(ConversationOrder, ConversationOrder.order_id == Order.id)
        .where(ConversationOrder.conversation_id == conversation.id, ConversationOrder.state == state)
        .order_by(Order.placed_at.desc())))


def order_for_link(session: Session, ref: str) -> Order:
    """An order named by its public id or its number (the first match, newest first)."""
    ref = (ref or "").strip()
    if not ref:
        raise Invalid("order", "give an order id or number")
    order = session.scalar(select(Order).filter_by(public_id=ref))
    if order is None:
        matches = orders_by_number(session, ref, limit=1)
        order = matches[0] if matches else None
    if order is None:
        raise NotFound("no such order")
    return order
