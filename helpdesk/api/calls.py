"""REST /api/v1/calls: log a phone call into a conversation or a new phone conversation."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from helpdesk.api.views import actor, bp
from helpdesk.crm import services as crm
from helpdesk.crm.models import Customer
from helpdesk.errors import Invalid, NotFound
from helpdesk.tickets import calls, services
from helpdesk.tickets.models import Conversation
from helpdesk.tickets.serialize import call_dict
from helpdesk.web import commit, db_session, json_body


@bp.post("/calls")
def calls_create() -> Any:
    session = db_session()
    data = json_body()
    # Everything is checked before the first write: a bad field stores nothing.
    call = calls.check_call(direction=data.get("direction"), duration_seconds=data.get("duration_seconds"),
                            notes=data.get("notes", ""), phone=data.get("phone"),
                            recording_url=data.get("recording_url"))
    conversation: Conversation | None = None
    customer: Customer | None = None
    if conversation_id := data.get("conversation_id"):
        try:
            conversation = services.get_conversation(session, str(conversation_id), actor())
        except NotFound:
            raise Invalid("conversation_id", "no such conversation") from None
    else:
        customer = customer_of(session, data.get("customer"), call.phone)
    subject = data.get("subject") or ""
    if not isinstance(subject, str):
        raise Invalid("subject", "must be text")
    record = calls.log_call(session, actor(), call, conversation=conversation, customer=customer,
                            subject=subject, client_msg_id=data.get("client_msg_id"))
    commit()
    return jsonify(call_dict(record)), 201


def customer_of(session: Any, value: Any, phone: str) -> Customer:
    """A customer id, or {email, phone, name} found or made; or the caller's number alone."""
    if isinstance(value, str) and value:
        try:
            return crm.get_customer(session, value)
        except NotFound:
            raise Invalid("customer", "no such customer") from None
    if isinstance(value, dict):
        email, number, name = value.get("email"), value.get("phone") or phone, value.get("name")
        for key, field in (("email", email), ("phone", number), ("name", name)):
            if field is not None and not isinstance(field, str):
                raise Invalid(f"customer.{key}", "must be text")
        if not (email or number):
            raise Invalid("customer", "an email or a phone number of the caller")
        return crm.identify(session, actor(), email=email or None, phone=number or None, name=name)
    if value is None and phone:
        return crm.identify(session, actor(), phone=phone)
    raise Invalid("customer", "a customer id or {email, phone, name}, or a conversation_id")
