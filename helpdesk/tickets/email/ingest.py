"""The one ingestion path every transport feeds (webhooks, SMTP, IMAP, re-processing).

1. `store_raw` writes the raw bytes and commits, before anything tries to understand them. The
   webhooks (`accept`) write the `email.parse` job in that same transaction: the worker parses.
2. `understand` parses, bounds, sanitises and renders with no transaction open (CPU work: never
   in the process that holds the sockets); over a bound the mail is quarantined.
3. `process` filters loops and bounces, threads, and posts through the ticket services, in one
   short transaction. A mail that fails stays `failed` with its error, for an admin to re-process.
The services take (session, actor, ...) and never commit; `receive` (SMTP server, IMAP poll) and
`process_stored` (the parse job) are the small drivers that own the transactions.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM, Actor
from helpdesk.crm import services as crm
from helpdesk.db import Database, public_id, utcnow
from helpdesk.errors import Invalid
from helpdesk.i18n import supported
from helpdesk.runtime import JobContext
from helpdesk.tickets import services as tickets
from helpdesk.tickets.email import display
from helpdesk.tickets.email import filter as noise
from helpdesk.tickets.email.bounds import MailBounds, OverLimit
from helpdesk.tickets.email.display import sanitize_html
from helpdesk.tickets.email.headers import decode_header_value, split_sender
from helpdesk.tickets.email.models import InboundMail, MailStatus
from helpdesk.tickets.email.parse import ParsedMail, parse_mail
from helpdesk.tickets.email.stored import store_display
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
    bounds: MailBounds = field(default_factory=MailBounds)
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
                   imap_allow_loopback=bool(config.get("IMAP_ALLOW_LOOPBACK")),
                   bounds=MailBounds.from_config(config))


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


@dataclass
class Understood:
    """Everything CPU-heavy about one mail, computed with no transaction open (on SQLite a
    transaction holds the write lock): parsed, bounded, sanitised, and its console display."""

    mail: ParsedMail
    body: str
    html: str | None
    attachment_ids: list[str]  # public ids chosen up front: the display links to them
    display: display.Prepared


@dataclass(frozen=True)
class _AttachmentRef:
    public_id: str
    content_id: str | None


def understand(raw: bytes, settings: MailSettings) -> Understood:
    """Parse and render one raw mail; raises bounds.OverLimit for a mail over a bound."""
    mail = parse_mail(raw, settings.bounds)
    body = _body(mail)
    html = sanitize_html(mail.html.replace("\x00", "")) if mail.html else None
    ids = [public_id("at") for _ in mail.attachments]
    refs = [_AttachmentRef(pid, (a.content_id or None) and a.content_id[:255])
            for pid, a in zip(ids, mail.attachments, strict=True)]
    return Understood(mail, body, html, ids, display.prepare(body, html, list(refs)))


def process(session: Session, inbound: InboundMail, settings: MailSettings,
            understood: Understood | None = None) -> Outcome:
    """Filter, thread and post one stored mail; raises on what should be `failed`. Without
    `understood` the mail is parsed here, inside the caller's transaction."""
    understood = understood or understand(inbound.raw, settings)
    mail = understood.mail
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
    if customer.locale is None and (said := supported(mail.headers.get("content-language", "").split(",")[0])):
        customer.locale = said  # survey and acknowledgement mails then speak their language
    meta = _meta(session, mail, inbound, threading.reason, threading.note, kind)
    fields = dict(body=understood.body, html=understood.html,
                  max_len=MAX_EMAIL_BODY, email_message_id=message_id, meta=meta,
                  author_name=(mail.from_name or mail.from_email)[:200],
                  attachments=[_attachment(a, pid) for a, pid in
                               zip(mail.attachments, understood.attachment_ids, strict=True)])
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
    store_display(session, message, understood.display)
    inbound.conversation_id = conversation.id
    inbound.message_id = message.id
    return _finish(inbound, MailStatus.processed, action, threading.reason if action == "appended" else kind,
                   conversation, message)


def _finish(inbound: InboundMail, status: MailStatus, action: str, reason: str | None,
            conversation: Conversation | None = None, message: Message | None = None) -> Outcome:
    inbound.status = status
    inbound.action = action
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


def _attachment(part: Any, pid: str) -> Attachment:
    return Attachment(public_id=pid, filename=(part.filename or "attachment")[:255],
                      content_type=part.content_type[:127],
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
    """Process one stored mail in three phases: read the raw bytes (a short transaction), parse
    and render them with no transaction open, then thread and post (a short transaction)."""
    with db.unit_of_work() as session:
        inbound = session.get(InboundMail, inbound_id)
        if inbound is None:
            raise LookupError("no such inbound mail")
        raw = inbound.raw
    try:
        understood = understand(raw, settings)
    except OverLimit as exc:
        return _quarantine(db, inbound_id, exc)
    except Exception as exc:  # anything at all: the mail must end up visible as failed
        return _mark_failed(db, inbound_id, exc)
    for attempt in range(tries):
        try:
            with db.unit_of_work() as session:
                inbound = session.get(InboundMail, inbound_id)
                if inbound.status is MailStatus.processed:
                    # Processed meanwhile (a parse job and housekeeping's recovery both ran):
                    # keep that result rather than calling the mail a duplicate of itself.
                    return outcome_of(session, inbound)  # type: ignore[return-value]
                return process(session, inbound, settings, understood)
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
        inbound.action = "failed"
        return Outcome("failed", inbound.public_id, "error")


def _quarantine(db: Database, inbound_id: int, exc: OverLimit) -> Outcome:
    """Over a bound: kept as it arrived, `failed` with the reason, never half-processed."""
    log.warning("inbound mail %s quarantined: %s", inbound_id, exc)
    with db.unit_of_work() as session:
        inbound = session.get(InboundMail, inbound_id)
        inbound.status = MailStatus.failed
        inbound.attempts += 1
        inbound.error = f"{exc} ({exc.hint})"
        inbound.reason = exc.reason
        inbound.action = "failed"
        return Outcome("failed", inbound.public_id, exc.reason)


# -- parsing in the worker ----------------------------------------------------------------------

PARSE_JOB = "email.parse"


def accept(session: Session, raw: bytes, *, transport: str, inbox: Inbox | None,
           settings: MailSettings) -> InboundMail:
    """Store the raw mail and, in the same transaction, the job that parses it in the worker:
    the process that holds the sockets never parses, sanitises or folds a mail."""
    inbound = store_raw(session, raw, transport=transport, inbox=inbox, max_bytes=settings.max_bytes)
    if inbound.status is MailStatus.received:
        jobs.enqueue(session, PARSE_JOB, {"inbound_id": inbound.id}, dedupe_key=f"email-parse:{inbound.id}")
    return inbound


def queue_reprocess(session: Session, inbound: InboundMail) -> jobs.Job | None:
    """An admin's re-process: the worker parses the mail again (a fixed cause, a raised limit)."""
    if inbound.status in (MailStatus.processed, MailStatus.rejected):
        return None
    inbound.status = MailStatus.received  # waiting for the worker again (the error stays until then)
    return jobs.enqueue(session, PARSE_JOB, {"inbound_id": inbound.id}, dedupe_key=f"email-parse:{inbound.id}")


def parse_stored(db: Database, settings: MailSettings, payload: Mapping[str, Any]) -> Outcome | None:
    """The parse job's work, idempotent: a mail already settled is left as it is (jobs run at
    least once); an admin's re-process puts a mail back to `received` first."""
    inbound_id = int(payload["inbound_id"])
    with db.unit_of_work() as session:
        inbound = session.get(InboundMail, inbound_id)
        if inbound is None or inbound.status is not MailStatus.received:
            return None
    return process_stored(db, inbound_id, settings)


def outcome_of(session: Session, inbound: InboundMail) -> Outcome | None:
    """The stored result of a mail, or None while the worker has not settled it."""
    if inbound.status is MailStatus.received:
        return None
    conversation = session.get(Conversation, inbound.conversation_id) if inbound.conversation_id else None
    message = session.get(Message, inbound.message_id) if inbound.message_id else None
    action = inbound.action or ("rejected" if inbound.status is MailStatus.rejected else inbound.status.value)
    return Outcome(action, inbound.public_id, inbound.reason, conversation.public_id if conversation else None,
                   message.public_id if message else None)


def wait_for_outcome(db: Database, inbound_id: int, *, seconds: float,
                     pause: Callable[[int, float], object]) -> Outcome | None:
    """Poll the stored mail until the worker has settled it, at most `seconds`. `pause` is
    time.sleep under gevent (the request's greenlet yields; a test passes a stand-in)."""
    deadline = time.monotonic() + seconds
    while True:
        session = db.reading()  # a look, ten times a second: never the write lock
        try:
            inbound = session.get(InboundMail, inbound_id)
            outcome = outcome_of(session, inbound) if inbound is not None else None
        finally:
            session.rollback()
            session.close()
        if outcome is not None:
            return outcome
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        pause(inbound_id, min(POLL_SECONDS, left))


POLL_SECONDS = 0.1


def parse_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The worker's half of an inbound webhook (and of an admin's re-process)."""
    parse_stored(ctx.db, MailSettings.from_config(ctx.settings), payload)
