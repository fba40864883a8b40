"""Forwarding a message or a whole conversation to someone outside it, with a note: a private
record on the conversation (who, to whom, the note) and a mail with the original quoted below
the note and its files attached."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from helpdesk.actors import Actor
from helpdesk.errors import Forbidden, Invalid
from helpdesk.tickets import replies
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Attachment, AuthorType, Conversation, Message

MAX_NOTE = 20_000
MAX_FORWARDED_FILES = 10


def forward(session: Session, actor: Actor, conversation: Conversation, *, to: Any, cc: Any = None,
            note: Any = "", message_id: str | None = None) -> Message:
    """Record the forward on the conversation; the caller plans its mail (outbound.plan_forward)."""
    if not actor.is_agent:
        raise Forbidden("only agents forward conversations")
    to_list, cc_list = replies.clean_addresses("to", to), replies.clean_addresses("cc", cc)
    if not to_list:
        raise Invalid("to", "name at least one address to forward to")
    note = note.strip() if isinstance(note, str) else ""
    if len(note) > MAX_NOTE:
        raise Invalid("note", f"longer than {MAX_NOTE} characters")
    source = None
    if message_id:
        source = next((m for m in conversation.messages if m.public_id == message_id and not m.private), None)
        if source is None:
            raise Invalid("message", "not a public message of this conversation")
    what = f"message #{source.seq}" if source else "the conversation"
    body = f"Forwarded {what} to {', '.join(to_list + cc_list)}" + (f"\n\n{note}" if note else "")
    return tickets.post_message(session, actor, conversation, body=body, private=True, meta={
        "forward": {"to": to_list, "cc": cc_list, "note": note, "message": source.public_id if source else None}})


def _sender(message: Message) -> str:
    mail = (message.meta or {}).get("email")
    if isinstance(mail, dict) and mail.get("from"):
        return str(mail["from"])
    if message.author_type is AuthorType.customer and message.conversation.customer.email:
        return f"{message.author_name} <{message.conversation.customer.email}>"
    return message.author_name


def forward_content(conversation: Conversation, record: Message) -> tuple[str, str, list[Attachment]]:
    """Subject, text and files of the forward mail of `record`."""
    from helpdesk.tickets.email.outbound import subject_for

    info = record.meta["forward"]
    if info.get("message"):
        sources = [m for m in conversation.messages if m.public_id == info["message"]]
    else:
        sources = [m for m in conversation.messages if not m.private and m.author_type is not AuthorType.system]
    blocks = []
    files: list[Attachment] = []
    for m in sources:
        quoted = "\n".join(f"> {line}" if line else ">" for line in m.body_text.splitlines())
        blocks.append(f"From: {_sender(m)}\nDate: {m.created_at:%a, %d %b %Y %H:%M} UTC\n"
                      f"Subject: {conversation.subject or '(no subject)'}\n\n{quoted}")
        files.extend(m.attachments)
    note = info.get("note") or ""
    text = (f"{note}\n\n" if note else "") + "---------- Forwarded message ----------\n" + "\n\n".join(blocks)
    return subject_for(conversation, "Fwd:"), text, files[:MAX_FORWARDED_FILES]
