"""Which conversation an inbound mail belongs to, and why. In order: In-Reply-To/References
against every stored Message-ID; our signed token in a Message-ID or in the reply address; the
[#REF] subject token, only from the conversation's customer or a participant; else a new one."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.crm.models import Identity, IdentityKind
from helpdesk.tickets.email.parse import ParsedMail
from helpdesk.tickets.models import Conversation, Message

SUBJECT_REF = re.compile(r"\[#([2-9A-HJ-NP-Z]{6,10})\]")
TOKEN_ID = re.compile(r"^hd\.(cv_[A-Za-z0-9_-]{8,40})\.([A-Za-z0-9_-]{4,40})\.([0-9a-f]{20})@")
REPLY_ADDRESS = re.compile(r"^[^@+\s]+\+([2-9A-HJ-NP-Z]{6,10})\.([0-9a-f]{12})@")


@dataclass(frozen=True)
class Threading:
    conversation: Conversation | None
    reason: str            # in_reply_to | references | signed_token | reply_address | subject_ref | new
    note: str | None = None  # e.g. why a subject token was not trusted


def sign(secret: str, value: str, length: int = 20) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:length]


def make_message_id(secret: str, domain: str, conversation_public_id: str, nonce: str) -> str:
    """Our Message-ID carries the conversation, signed: a reply whose In-Reply-To we never stored
    (another copy, an import) still threads, and nobody can forge one for a foreign conversation."""
    body = f"hd.{conversation_public_id}.{nonce}"
    return f"{body}.{sign(secret, body)}@{domain}"


def reply_address(secret: str, address: str, ref: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local}+{ref}.{sign(secret, 'reply:' + ref, 12)}@{domain}"


def find_conversation(session: Session, mail: ParsedMail, *, secret: str) -> Threading:
    ids = [*mail.in_reply_to, *reversed(mail.references)]
    if ids:
        rows = session.execute(select(Message.email_message_id, Message.conversation_id)
                               .where(Message.email_message_id.in_(ids))).all()
        by_id = dict(rows)
        for mid in ids:
            if mid in by_id:
                reason = "in_reply_to" if mid in mail.in_reply_to else "references"
                return Threading(session.get(Conversation, by_id[mid]), reason)
        for mid in ids:
            match = TOKEN_ID.match(mid)
            signed = f"hd.{match.group(1)}.{match.group(2)}" if match else ""
            if match and hmac.compare_digest(match.group(3), sign(secret, signed)):
                conversation = session.scalar(select(Conversation).filter_by(public_id=match.group(1)))
                if conversation is not None:
                    return Threading(conversation, "signed_token")
    for recipient in mail.recipients:
        match = REPLY_ADDRESS.match(recipient)
        if match and hmac.compare_digest(match.group(2), sign(secret, "reply:" + match.group(1), 12)):
            conversation = session.scalar(select(Conversation).filter_by(ref=match.group(1)))
            if conversation is not None:
                return Threading(conversation, "reply_address")
    note = None
    for ref in SUBJECT_REF.findall(mail.subject or ""):
        conversation = session.scalar(select(Conversation).filter_by(ref=ref))
        if conversation is None:
            continue
        if is_participant(session, conversation, mail.from_email):
            return Threading(conversation, "subject_ref")
        note = f"subject token [#{ref}] ignored: {mail.from_email} is not a participant"
    return Threading(None, "new", note)


def is_participant(session: Session, conversation: Conversation, address: str) -> bool:
    """The customer (any of their email identities) or someone copied on the thread."""
    address = (address or "").strip().lower()
    if not address:
        return False
    customer = conversation.customer
    if customer.email and customer.email.lower() == address:
        return True
    owner = session.scalar(select(Identity.customer_id).filter_by(kind=IdentityKind.email, provider="",
                                                                   value=address))
    if owner == customer.id:
        return True
    for meta in session.scalars(select(Message.meta).filter_by(conversation_id=conversation.id)):
        email = (meta or {}).get("email") or {}
        if address in [a.lower() for a in email.get("participants", [])]:
            return True
    return False
