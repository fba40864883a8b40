"""Phone calls an agent logs: into an existing conversation or a new one on the `phone` channel.

A call is a message (its notes, in the timeline and in search) with a PhoneCall row beside it
(direction, duration, number, recording link). It is kept private to agents: logging a call into an
email or chat conversation must never send the notes to the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.actors import Actor
from helpdesk.crm.models import Customer
from helpdesk.crm.services import normalise_phone
from helpdesk.db import utcnow
from helpdesk.errors import Forbidden, Invalid
from helpdesk.tickets import services
from helpdesk.tickets.models import CallDirection, Channel, Conversation, Inbox, Message, PhoneCall

MAX_DURATION = 24 * 3600
MAX_URL = 2000
PHONE_INBOX = "Phone"
DIRECTIONS = {"in": CallDirection.inbound, "inbound": CallDirection.inbound,
              "out": CallDirection.outbound, "outbound": CallDirection.outbound}


@dataclass(frozen=True)
class CallInput:
    """What an agent tells about a call, checked before anything is written."""

    direction: CallDirection
    duration_seconds: int
    notes: str
    phone: str
    recording_url: str | None


def check_call(*, direction: Any, duration_seconds: Any, notes: Any = "", phone: Any = None,
               recording_url: Any = None) -> CallInput:
    try:
        chosen = DIRECTIONS[str(direction).strip().lower()]
    except KeyError:
        raise Invalid("direction", "inbound or outbound") from None
    duration = _duration(duration_seconds)
    if notes is None:
        notes = ""
    if not isinstance(notes, str):
        raise Invalid("notes", "must be text")
    if len(notes) > services.MAX_BODY:
        raise Invalid("notes", f"longer than {services.MAX_BODY} characters", code="body_too_long")
    number = normalise_phone(phone) if isinstance(phone, str) and phone.strip() else ""
    if phone is not None and not isinstance(phone, str):
        raise Invalid("phone", "not a phone number")
    return CallInput(chosen, duration, notes.strip(), number, _recording(recording_url))


def _duration(value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid("duration_seconds", "a whole number of seconds")
    if isinstance(value, str):
        value = value.strip()
        if ":" in value:  # "12:30" as agents type it: minutes and seconds
            minutes, _, seconds = value.partition(":")
            if not (minutes.isdigit() and seconds.isdigit() and len(seconds) == 2):
                raise Invalid("duration_seconds", "minutes:seconds, e.g. 4:30")
            value = int(minutes) * 60 + int(seconds)
        else:
            try:
                value = int(value)
            except ValueError:
                raise Invalid("duration_seconds", "a whole number of seconds") from None
    if not isinstance(value, int):
        raise Invalid("duration_seconds", "a whole number of seconds")
    if value < 0 or value > MAX_DURATION:
        raise Invalid("duration_seconds", f"between 0 and {MAX_DURATION} seconds")
    return value


def _recording(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > MAX_URL:
        raise Invalid("recording_url", "an http or https link")
    value = value.strip()
    parts = urlsplit(value)
    # The link is shown to every agent: javascript:, data: or file: links must never get there.
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise Invalid("recording_url", "an http or https link")
    return value


def phone_inbox(session: Session) -> Inbox:
    """The inbox new calls go to: the first phone inbox, made on the first call if none exists."""
    inbox = session.scalar(select(Inbox).filter_by(channel=Channel.phone).order_by(Inbox.id).limit(1))
    if inbox is None:
        name = PHONE_INBOX
        if session.scalar(select(Inbox.id).filter_by(name=name)) is not None:
            name = f"{PHONE_INBOX} calls"
        inbox = Inbox(name=name, channel=Channel.phone, settings={})
        session.add(inbox)
        session.flush()
    return inbox


def log_call(session: Session, actor: Actor, call: CallInput, *, conversation: Conversation | None = None,
             customer: Customer | None = None, subject: str = "", client_msg_id: str | None = None) -> PhoneCall:
    """Record a call in `conversation`, or in a new phone conversation with `customer`."""
    if not actor.is_agent:
        raise Forbidden("only agents log calls")
    if client_msg_id is not None and (earlier := _logged_before(session, actor, str(client_msg_id))):
        return earlier  # a retry, also of a call that opened its own conversation
    if conversation is None:
        if customer is None:
            raise Invalid("customer", "give a customer or a conversation")
        inbox = phone_inbox(session)
        label = customer.name or call.phone or customer.phone or customer.email or ""
        verb = "Call from" if call.direction is CallDirection.inbound else "Call to"
        conversation = services.create_conversation(
            session, actor, inbox=inbox, customer=customer, channel=Channel.phone,
            subject=subject or f"{verb} {label}".strip())
    body = call.notes or ("Inbound call" if call.direction is CallDirection.inbound else "Outbound call")
    message = services.post_message(session, actor, conversation, body=body, private=True,
                                    client_msg_id=client_msg_id, meta={"kind": "call"})
    if message.call is not None:  # a retry of the same client_msg_id
        return message.call
    record = PhoneCall(conversation_id=conversation.id, message=message, agent_id=actor.id,
                       direction=call.direction, duration_seconds=call.duration_seconds,
                       phone=call.phone or (conversation.customer.phone or ""), recording_url=call.recording_url)
    session.add(record)
    # Talking to the customer is a response and activity, though the notes stay private.
    now = utcnow()
    if conversation.first_response_at is None:
        conversation.first_response_at = now
    conversation.last_activity_at = now
    if call.phone and not conversation.customer.phone:
        conversation.customer.phone = call.phone
    session.flush()
    return record


def _logged_before(session: Session, actor: Actor, client_msg_id: str) -> PhoneCall | None:
    return session.scalar(select(PhoneCall).join(Message, PhoneCall.message_id == Message.id).where(
        Message.client_msg_id == client_msg_id, PhoneCall.agent_id == actor.id).limit(1))


def format_duration(seconds: int) -> str:
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
