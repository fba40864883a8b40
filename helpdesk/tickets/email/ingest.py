"""The one ingestion path every transport feeds (webhooks, SMTP, IMAP, re-processing).

1. `store_raw` writes the raw bytes and commits, before anything tries to understand them.
2. `process` parses, filters loops and bounces, threads, and posts through the ticket services.
3. A mail that fails in step 2 stays `failed` with its error, for an admin to re-process.
The services take (session, actor, ...) and never commit; `receive` is the small driver that owns
the two transactions, like the job worker does for jobs.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM, Actor
from helpdesk.crm import services as crm
from helpdesk.db import Database, utcnow
from helpdesk.errors import Invalid
from helpdesk.tickets import services as tickets
from helpdesk.tickets.email import filter as noise
from helpdesk.tickets.email.display import sanitize_html
from helpdesk.tickets.email.headers import decode_header_value, split_sender
from helpdesk.tickets.email.models import InboundMail, MailStatus
from helpdesk.tickets.email.parse import ParsedMail, parse_mail
from helpdesk.tickets.email.threading import find_conversation
from helpdesk.tickets.models import (
    Attachment,
    AuthorType,
    Channel,
    Conversation,
    Delivery,
    Inbox,
    InboxAddress,
    Message,
)

log = logging.getLogger(__name__)

MAX_EMAIL_BODY = 1_000_000
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class MailSettings:
    secret: str
    domain: str
    max_bytes: int = 25 * 1024 * 1024
    auto_cap: int = 3
    auto_window: timedelta = timedelta(hours=1)
    ack_inbox_cap: int = 100  # acknowledgements per inbox per hour (HELPDESK_EMAIL_ACK_CAP_PER_INBOX)
    imap_ca_file: str | None = None  # extra CA for IMAP servers' certificates (HELPDESK_IMAP_CA_FILE)
    imap_allow_loopback: bool = False  # HELPDESK_IMAP_ALLOW_LOOPBACK: an IMAP server on this machine

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        from urllib.parse import urlsplit

        domain = config.get("EMAIL_DOMAIN") or urlsplit(config.get("BASE_URL") or "").hostname or "localhost"
        return cls(secret=str(config["SECRET_KEY"]), domain=domain,
                   max_bytes=int(config.get("EMAIL_MAX_BYTES") or cls.max_bytes),
                   auto_cap=int(config.get("EMAIL_AUTO_REPLY_CAP", cls.auto_cap)),
                   auto_window=timedelta(seconds=int(config.get("EMAIL_AUTO_REPLY_WINDOW_SECONDS", 3600))),
                   ack_inbox_cap=int(config.get("EMAIL_ACK_CAP_PER_INBOX", cls.ack_inbox_cap)),
                   imap_ca_file=config.get("IMAP_CA_FILE") or None,
                   imap_allow_loopback=bool(config.get("IMAP_ALLOW_LOOPBACK")))


@dataclass(frozen=True)
class Outcome:
    action: str                    # created | appended | ignored | rejected | failed
    inbound_id: str
    reason: str | None = None
    conversation_id: str | None = None
    message_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"action": self.action, "inbound_id": self.inbound_id,
                                "conversation_id": self.conversation_id, "message_id": self.message_id}
        if self.reason:
            body["reason"] = self.reason
        return body


# -- step 1: keep the raw mail ------------------------------------------------------------------

def store_raw(session: Session, raw: bytes, *, transport: str, inbox: Inbox | None,
              max_bytes: int) -> InboundMail:
    """Write the raw mail. Over the size limit it is kept but `rejected`, never parsed."""
    head = _sniff_headers(raw[:SNIFF_BYTES])
    sender = split_sender(head.get("from", ""))[0][:254] or None
    mid = (re.findall(r"<([^<>\s]+)>", head.get("message-id", "")) or [None])[0]
    mail = InboundMail(inbox=inbox, transport=transport[:32], raw=raw, size=len(raw),
                       message_id_header=mid and mid[:998],
                       sender=sender, subject=" ".join(head.get("subject", "").split())[:255] or None,
                       status=MailStatus.received)
    if len(raw) > max_bytes:
        mail.status = MailStatus.rejected
        mail.reason = "too_large"
        mail.error = f"{len(raw)} bytes is over the {max_bytes}-byte limit for one mail"
    session.add(mail)
    session.flush()
    return mail


def _sniff_headers(data: bytes) -> dict[str, str]:
    """A few headers for the admin list, without parsing: the parser may be what fails."""
    block = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]
    found: dict[str, str] = {}
    for match in re.finditer(rb"^(from|subject|message-id):[ \t]*(.*(?:\r?\n[ \t].*)*)", block, re.I | re.M):
        key = match.group(1).decode().lower()
        if key not in found:
            found[key] = decode_header_value(match.group(2)[:2000].decode("utf-8", "surrogateescape"))
    return found


# -- step 2: understand it ----------------------------------------------------------------------

def _agent_addresses(session: Session) -> set[str]:
    from helpdesk.accounts.models import Agent

    return {e.lower() for e in session.scalars(select(Agent.email))}


def own_addresses(session: Session) -> set[str]:
    return {a.lower() for a in session.scalars(select(InboxAddress.address))}


def inbox_for(session: Session, mail: ParsedMail) -> Inbox | None:
    """The inbox one of the recipients belongs to (plus-addresses included)."""
    candidates = []
    for address in mail.recipients + [a.lower() for a in _delivered_to(mail)]:
        candidates.append(address)
        local, _, domain = address.partition("@")
        if "+" in local:
            candidates.append(f"{local.split('+', 1)[0]}@{domain}")
    if not candidates:
        return None
    row = session.scalar(select(InboxAddress).where(InboxAddress.address.in_(candidates)))
    return row.inbox if row else None


def _delivered_to(mail: ParsedMail) -> list[str]:
    value = mail.headers.get("delivered-to", "")
    return [value.strip()] if "@" in value else []


def process(session: Session, inbound: InboundMail, settings: MailSettings) -> Outcome:
    """Parse, filter, thread and post one stored mail; raises on what should be `failed`."""
    mail = parse_mail(inbound.raw)
    inbound.attempts += 1
    inbox = inbound.inbox or inbox_for(session, mail)
    if inbox is None:
        raise LookupError("no inbox owns any recipient of this mail")
    inbound.inbox = inbox
    message_id = mail.message_id or _synthetic_message_id(inbound.raw)
    if len(message_id) > 990:
        message_id = _synthetic_message_id(message_id.encode())
    if session.scalar(select(Message.id).filter_by(email_message_id=message_id)) is not None:
        return _finish(inbound, MailStatus.ignored, "ignored", "duplicate")
    kind = noise.noise_kind(mail, own_addresses(session), settings.secret)
    if kind == "own_address":
        return _finish(inbound, MailStatus.ignored, "ignored", "own_address")
    threading = find_conversation(session, mail, secret=settings.secret)
    if kind == "bounce":
        return _bounce(session, inbound, mail, message_id, threading.conversation)
    if "@" not in mail.from_email:
        raise ValueError("the mail names no sender address")
    try:
        customer = crm.customer_for_email(session, SYSTEM, mail.from_email, mail.from_name or None)
    except Invalid:
        # Nobody can be answered at a malformed address (spam, mostly): kept, visible, not a ticket.
        return _finish(inbound, MailStatus.ignored, "ignored", "invalid_sender")
    meta = _meta(session, mail, inbound, threading.reason, threading.note, kind)
    fields = dict(body=_body(mail), html=sanitize_html(mail.html.replace("\x00", "")) if mail.html else None,
                  max_len=MAX_EMAIL_BODY, email_message_id=message_id, meta=meta,
                  author_name=(mail.from_name or mail.from_email)[:200],
                  attachments=[_attachment(a) for a in mail.attachments])
    conversation = threading.conversation
    if conversation is not None:
        # A participant other than the customer writes as the conversation's customer side;
        # meta.email.from keeps who it really was.
        actor = Actor("customer", conversation.customer_id, mail.from_name or mail.from_email)
        message = tickets.post_message(session, actor, conversation, **fields)
        action = "appended"
    else:
        actor = Actor("customer", customer.id, customer.display_name)
        conversation = tickets.create_conversation(session, actor, inbox=inbox, customer=customer,
                                                   subject=mail.subject, channel=Channel.email, **fields)
        message = conversation.messages[-1]
        action = "created"
        if kind is None:
            _maybe_acknowledge(session, inbox, conversation, mail, settings)
    inbound.conversation_id = conversation.id
    inbound.message_id = message.id
    return _finish(inbound, MailStatus.processed, action, threading.reason if action == "appended" else kind,
                   conversation, message)


def _finish(inbound: InboundMail, status: MailStatus, action: str, reason: str | None,
            conversation: Conversation | None = None, message: Message | None = None) -> Outcome:
    inbound.status = status
    inbound.reason = reason
    inbound.error = None
    inbound.processed_at = utcnow()
    return Outcome(action, inbound.public_id, reason, conversation.public_id if conversation else None,
                   message.public_id if message else None)


def _synthetic_message_id(raw: bytes) -> str:
    """Mail without a Message-ID still gets one, derived from its bytes: a re-delivery dedupes."""
    return f"{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid"


def _body(mail: ParsedMail) -> str:
    body = mail.text.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
    if not body and not mail.attachments:
        body = "(empty message)"
    return body[:MAX_EMAIL_BODY]


def _attachment(part: Any) -> Attachment:
    return Attachment(filename=(part.filename or "attachment")[:255], content_type=part.content_type[:127],
                      size=len(part.data), sha256=hashlib.sha256(part.data).hexdigest(),
                      content_id=(part.content_id or None) and part.content_id[:255], data=part.data)


def _meta(session: Session, mail: ParsedMail, inbound: InboundMail, reason: str, note: str | None,
          kind: str | None) -> dict[str, Any]:
    participants = sorted({a for a in mail.recipients} | {mail.from_email.lower()})
    meta: dict[str, Any] = {
        "threaded_by": reason,
        "inbound": inbound.public_id,
        "email": {"from": mail.from_header[:500], "to": mail.to[:2000], "cc": mail.cc[:2000],
                  "subject": mail.subject[:500], "in_reply_to": mail.in_reply_to[:5],
                  "references": mail.references[-20:], "participants": participants[:50]},
    }
    if note:
        meta["threading_note"] = note
    if kind:
        meta["auto"] = kind
    agent = session.scalar(select(Agent).filter_by(email=mail.from_email.lower()))
    if agent is not None:
        # Anyone can put an agent's address in From: the mail stays a customer message.
        meta["warning"] = "sender_is_agent_address"
    return meta


def _bounce(session: Session, inbound: InboundMail, mail: ParsedMail, message_id: str,
            conversation: Conversation | None) -> Outcome:
    """A delivery report: a system note on the conversation it bounces from, never a new one."""
    bounced = None
    if mail.bounced_message_ids:
        bounced = session.scalar(select(Message).where(
            Message.email_message_id.in_(mail.bounced_message_ids)))
    if bounced is not None:
        conversation = bounced.conversation
    if conversation is None:
        return _finish(inbound, MailStatus.ignored, "ignored", "bounce_unmatched")
    status = mail.delivery_status
    detail = status.get("diagnostic-code") or status.get("status") or mail.subject
    recipient = status.get("final-recipient", "").split(";")[-1].strip()
    if bounced is not None and bounced.author_type is AuthorType.agent:
        bounced.delivery = Delivery.failed
        bounced.delivery_error = f"bounced: {detail}"[:500]
    note = f"Delivery failed{' to ' + recipient if recipient else ''}: {detail}"[:2000]
    # A system message (post_message keeps private notes for agents); outbound mail only ever
    # carries agents' messages, so the customer never receives it.
    message = tickets.post_message(session, SYSTEM, conversation, body=note,
                                   email_message_id=message_id,
                                   meta={"auto": "bounce", "inbound": inbound.public_id,
                                         "bounced": bounced.public_id if bounced else None})
    inbound.conversation_id = conversation.id
    inbound.message_id = message.id
    return _finish(inbound, MailStatus.processed, "appended", "bounce", conversation, message)


def _maybe_acknowledge(session: Session, inbox: Inbox, conversation: Conversation, mail: ParsedMail,
                       settings: MailSettings) -> None:
    """The optional acknowledgement of a new conversation, capped per recipient."""
    if not (inbox.settings or {}).get("acknowledge"):
        return
    reason = None
    if mail.from_email.lower() in _agent_addresses(session):
        reason = "agent"  # never an automatic mail to one of our own people
    elif not noise.may_send_automatic(session, mail.from_email, cap=settings.auto_cap,
                                      window=settings.auto_window):
        reason = "cap"
    elif not noise.inbox_may_acknowledge(session, inbox.id, cap=settings.ack_inbox_cap,
                                         window=timedelta(hours=1)):
        reason = "inbox_cap"
    if reason:
        conversation_note = {"auto_reply_suppressed": reason}
        conversation.messages[-1].meta = {**conversation.messages[-1].meta, **conversation_note}
        return
    noise.record_automatic(session, mail.from_email, noise.ack_kind(inbox.id))  # counts for both caps
    jobs.enqueue(session, "email.acknowledge", {"conversation_id": conversation.id},
                 dedupe_key=f"email-ack:{conversation.id}")


# -- the driver ---------------------------------------------------------------------------------

def receive(db: Database, raw: bytes, *, transport: str, settings: MailSettings,
            inbox_id: int | None = None) -> Outcome:
    """Store, then process in a second transaction; a failure leaves the raw mail `failed`."""
    with db.unit_of_work() as session:
        inbox = session.get(Inbox, inbox_id) if inbox_id else None
        inbound = store_raw(session, raw, transport=transport, inbox=inbox, max_bytes=settings.max_bytes)
        inbound_id = inbound.id
        if inbound.status is MailStatus.rejected:
            return Outcome("rejected", inbound.public_id, "too_large")
    return process_stored(db, inbound_id, settings)


def process_stored(db: Database, inbound_id: int, settings: MailSettings, *, tries: int = 2) -> Outcome:
    for attempt in range(tries):
        try:
            with db.unit_of_work() as session:
                inbound = session.get(InboundMail, inbound_id)
                if inbound is None:
                    raise LookupError("no such inbound mail")
                return process(session, inbound, settings)
        except IntegrityError as exc:
            # A concurrent delivery won a unique constraint: the same Message-ID (a duplicate),
            # or the same new sender's customer record (then a second try finds it).
            if attempt + 1 < tries:
                continue
            return _mark_failed(db, inbound_id, exc)
        except Exception as exc:  # anything at all: the mail must end up visible as failed
            return _mark_failed(db, inbound_id, exc)
    raise AssertionError("unreachable")  # the loop always returns


def _mark_failed(db: Database, inbound_id: int, exc: Exception) -> Outcome:
    log.warning("inbound mail %s failed: %s", inbound_id, exc)
    with db.unit_of_work() as session:
        inbound = session.get(InboundMail, inbound_id)
        inbound.status = MailStatus.failed
        inbound.attempts += 1
        inbound.error = f"{type(exc).__name__}: {exc}"[:4000]
        inbound.reason = "error"
        return Outcome("failed", inbound.public_id, "error")


def reprocess(db: Database, public_id: str, settings: MailSettings) -> Outcome:
    with db.unit_of_work() as session:
        inbound = session.scalar(select(InboundMail).filter_by(public_id=public_id))
        if inbound is None:
            from helpdesk.errors import NotFound

            raise NotFound("no such inbound mail")
        if inbound.status is MailStatus.processed:
            return Outcome("ignored", inbound.public_id, "already_processed")
        if inbound.status is MailStatus.rejected:
            return Outcome("rejected", inbound.public_id, inbound.reason)
        inbound_id = inbound.id
    return process_stored(db, inbound_id, settings)
