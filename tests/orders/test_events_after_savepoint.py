"""Events recorded before a SAVEPOINT are dispatched once, after the real commit (found by orders,
whose upserts use savepoints against concurrent inserts)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import db_of
from helpdesk.actors import SYSTEM, customer_actor
from helpdesk.crm import services as crm
from helpdesk.orders.demo import seed_orders
from helpdesk.orders.models import ConversationOrder, Order
from helpdesk.tickets import services as tickets
from helpdesk.tickets.events import MessagePosted


def test_listener_runs_after_the_outer_commit_not_at_savepoint_release(app: Flask, session: Session) -> None:
    seen: list[bool] = []

    def listener(event: MessagePosted) -> None:
        # Runs in its own unit of work: it must see the committed order, and not wait on a lock.
        with db_of(app).unit_of_work() as s:
            seen.append(s.scalar(select(Order.id).filter_by(number="1001")) is not None)

    app.extensions["helpdesk.dispatcher"].subscribe(MessagePosted, listener)
    with db_of(app).unit_of_work() as s:
        inbox, _ = tickets.create_inbox(s, SYSTEM, name="Chat", channel="chat")
        ann = crm.customer_for_email(s, SYSTEM, "ann@example.com")
        tickets.create_conversation(s, customer_actor(ann), inbox=inbox, customer=ann, subject="Hi",
                                    body="where is order #1001?")
        seed_orders(s)  # upserts in savepoints, after the message was posted
        assert seen == []
    assert seen == [True]
    links = session.scalars(select(ConversationOrder)).all()
    assert [(link.order.number, link.state.value) for link in links] == [("1001", "linked")]
