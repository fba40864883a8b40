"""The public JSON shapes of PROTOCOL.md: MESSAGE and CONVERSATION."""

from __future__ import annotations

from datetime import datetime
from email.utils import getaddresses
from typing import Any

from helpdesk.tickets.models import Attachment, Conversation, Message, PhoneCall


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def attachment_dict(attachment: Attachment) -> dict[str, Any]:
    return {"id": attachment.public_id, "filename": attachment.filename,
            "content_type": attachment.content_type, "size": attachment.size,
            "url": f"/attachments/{attachment.public_id}"}


def message_dict(message: Message, *, for_agent: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": message.public_id,
        "conversation_id": message.conversation.public_id,
        "seq": message.seq,
        "client_msg_id": message.client_msg_id,
        "author": {"type": message.author_type.value, "name": message.author_name},
        "body": message.body_text,
        "attachments": [attachment_dict(a) for a in message.attachments],
        "created_at": iso(message.created_at),
    }
    if for_agent:
        data["private"] = message.private
        data["delivery"] = message.delivery.value if message.delivery else None
        data["delivery_error"] = message.delivery_error
        if (envelope := email_envelope(message)) is not None:
            data["email"] = envelope
        # Only a call's message loads its call row: other messages cost no extra query.
        if (message.meta or {}).get("kind") == "call" and message.call is not None:
            data["call"] = call_fields(message.call)
    return data


def _addresses(header: Any) -> list[str]:
    return [addr.lower() for _name, addr in getaddresses([str(header or "")]) if "@" in addr]


def email_envelope(message: Message) -> dict[str, Any] | None:
    """Who a mail went to: an incoming one's From/To/Cc headers, our reply's To/Cc/Bcc, a
    forward's recipients. None for messages that were never mail."""
    meta = message.meta or {}
    if isinstance(mail := meta.get("email"), dict):
        return {"from": str(mail.get("from") or ""), "to": _addresses(mail.get("to")),
                "cc": _addresses(mail.get("cc")), "bcc": []}
    rec = meta.get("recipients") or meta.get("forward")
    if isinstance(rec, dict):
        return {"from": None, "to": list(rec.get("to") or []), "cc": list(rec.get("cc") or []),
                "bcc": list(rec.get("bcc") or []), "forward": "forward" in meta}
    return None


def call_fields(call: PhoneCall) -> dict[str, Any]:
    return {"id": call.public_id, "direction": call.direction.value, "duration_seconds": call.duration_seconds,
            "phone": call.phone, "recording_url": call.recording_url,
            "agent": {"id": call.agent.public_id, "name": call.agent.name} if call.agent else None,
            "created_at": iso(call.created_at)}


def call_dict(call: PhoneCall) -> dict[str, Any]:
    """POST /api/v1/calls' answer: the call, its conversation and its timeline message."""
    return {**call_fields(call), "notes": call.message.body_text,
            "conversation": conversation_dict(call.message.conversation, for_agent=True),
            "message": message_dict(call.message, for_agent=True)}


def conversation_dict(conversation: Conversation, *, for_agent: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": conversation.public_id,
        "status": conversation.status.value,
        "channel": conversation.channel.value,
        "subject": conversation.subject,
        "assignee": {"name": conversation.assignee.name} if conversation.assignee else None,
        "created_at": iso(conversation.created_at),
        "last_seq": conversation.last_seq,
    }
    if for_agent:
        data.update({
            "ref": conversation.ref,
            "priority": conversation.priority.value,
            "tags": [t.name for t in conversation.tags],
            "inbox": {"id": conversation.inbox.public_id, "name": conversation.inbox.name},
            "customer": {"id": conversation.customer.public_id, "name": conversation.customer.display_name,
                         "email": conversation.customer.email},
            "team": {"id": conversation.team.public_id, "name": conversation.team.name}
            if conversation.team else None,
            "updated_at": iso(conversation.updated_at),
            "last_activity_at": iso(conversation.last_activity_at),
            "first_response_at": iso(conversation.first_response_at),
            "resolved_at": iso(conversation.resolved_at),
        })
        if conversation.assignee:
            data["assignee"] = {"id": conversation.assignee.public_id, "name": conversation.assignee.name}
    return data
