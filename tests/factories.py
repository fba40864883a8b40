"""Small builders for test data, through the real services."""

from __future__ import annotations

from typing import Any

from flask import Flask

from helpdesk import db_of
from helpdesk.actors import SYSTEM, customer_actor
from helpdesk.crm import services as crm
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Inbox


def make_inbox(app: Flask, name: str = "Web chat", channel: str = "chat",
               address: str | None = None) -> tuple[Inbox, str]:
    with db_of(app).unit_of_work() as s:
        return tickets.create_inbox(s, SYSTEM, name=name, channel=channel, address=address)


def make_conversation(app: Flask, inbox: Inbox, email: str = "ann@example.com", body: str = "Hello",
                      subject: str = "Where is my order?", **kwargs: Any) -> Conversation:
    with db_of(app).unit_of_work() as s:
        inbox = s.merge(inbox)
        customer = crm.customer_for_email(s, SYSTEM, email, kwargs.pop("name", None))
        conv = tickets.create_conversation(s, customer_actor(customer), inbox=inbox, customer=customer,
                                           subject=subject, body=body, **kwargs)
        return conv
