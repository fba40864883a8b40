"""Agents' answers as real email: a job per message, written in the same transaction as the
message, sent over SMTP with our Message-ID, In-Reply-To, References, the [#REF] subject token,
text and HTML alternatives and the attachments.

Why an in-transaction listener: `post_message` records `MessagePosted` in the session; ordinary
listeners run only after commit, in a new transaction, so a crash between the two would lose the
mail. `plan_posted` is subscribed with `subscribe_in_transaction` (see email/__init__.py): it runs
inside the committing transaction and writes the send job (and the Message-ID and `delivery =
sending`) into that same transaction: the job exists exactly when the message does, without the
ticket services knowing that email exists.
"""

from __future__ import annotations

import email.policy
import html
import logging
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from helpdesk import events, jobs
from helpdesk.db import utcnow
from helpdesk.i18n import DEFAULT_LOCALE, translations
from helpdesk.runtime import JobContext
from helpdesk.tickets.email.delivery import RetryPolicy, retry_window_start
from helpdesk.tickets.email.filter import loop_value
from helpdesk.tickets.email.threading import make_message_id, reply_address
from helpdesk.tickets.events import DeliveryChanged, MessagePosted
from helpdesk.tickets.models import AuthorType, Channel, Conversation, Delivery, InboxAddress, Message

log = logging.getLogger(__name__)

SEND_JOB = "email.send"
ACK_JOB = "email.acknowledge"
MAX_REFERENCES_CHARS = 1800  # long References headers get mangled or refused by some servers
# Message-ID and References must not be folded: some programs then fail to match them.
MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class OutboundSettings:
    secret: str
    domain: str
    smtp_url: str | None
    from_address: str | None
    chat_fallback_seconds: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OutboundSettings:
        domain = config.get("EMAIL_DOMAIN") or urlsplit(config.get("BASE_URL") or "").hostname or "localhost"
        return cls(secret=str(config["SECRET_KEY"]), domain=domain, smtp_url=config.get("SMTP_URL"),
                   from_address=config.get("EMAIL_FROM"),
                   chat_fallback_seconds=float(config.get("CHAT_EMAIL_FALLBACK_SECONDS", 120)))


# The chat room provides the capability "chat.shopper_online" (is this shopper connected right
# now?); without it a shopper counts as gone when they have not written for the fallback delay.
ShopperOnline = Callable[[Session, Conversation], bool]
SHOPPER_ONLINE_CAPABILITY = "chat.shopper_online"


# -- enqueue, inside the transaction of the message ---------------------------------------------

def plan_posted(session: Session, ev: MessagePosted, settings: OutboundSettings) -> None:
    """In-transaction listener of MessagePosted: an agent's public message gets its send job."""
    if ev.private or ev.author_type not in ("agent", "system"):
        return
    message = session.get(Message, ev.message_id)
    if message is None or message.meta.get("outbound_planned"):
        return
    if ev.author_type == "system" and not message.meta.get("deliver"):
        return  # system lines stay on the page; only an automation rule's reply is sent
    plan_message(session, message, settings)


def plan_message(session: Session, message: Message, settings: OutboundSettings) -> jobs.Job | None:
    """Give an agent's public message its Message-ID and a send job, if it leaves by email."""
    conversation = message.conversation
    if conversation.channel is Channel.chat and not settings.smtp_url:
        return None  # no outbound mail configured: chat stays chat (asked first: no customer to load)
    if not conversation.customer.email:
        return None
    delay = 0.0
    if conversation.channel is Channel.chat:
        delay = settings.chat_fallback_seconds  # the shopper may still be reading the widget
    message.email_message_id = message.email_message_id or make_message_id(
        settings.secret, settings.domain, conversation.public_id, message.public_id.split("_", 1)[-1])
    message.meta = {**(message.meta or {}), "outbound_planned": True}
    if conversation.channel is Channel.email:
        message.delivery = Delivery.sending
    return jobs.enqueue(session, SEND_JOB, {"message_id": message.id}, delay=delay,
                        dedupe_key=f"email-send:{message.id}")


# -- building the mail --------------------------------------------------------------------------

def one_line(value: str, limit: int = 200) -> str:
    """Header text from untrusted input: CR/LF (header injection) and runs of space collapse."""
    return " ".join((value or "").replace("\r", " ").replace("\n", " ").split())[:limit]


def subject_for(conversation: Conversation, prefix: str | None = "Re:") -> str:
    """`Re:` on a reply, none on the first mail of a conversation we started, `Fwd:` on a forward."""
    base = one_line(conversation.subject or f"Your conversation with {conversation.inbox.name}", 180)
    base = base.replace(f"[#{conversation.ref}]", "").strip()
    if prefix == "Re:" and not base.lower().startswith(("re:", "aw:", "sv:")):
        base = f"Re: {base}"
    elif prefix and prefix != "Re:":
        base = f"{prefix} {base}"
    return f"{base} [#{conversation.ref}]"


def thread_ids(conversation: Conversation, before_seq: int) -> list[str]:
    return [m.email_message_id for m in conversation.messages
            if m.email_message_id and m.seq < before_seq and not m.private
            and not m.email_message_id.endswith("@no-message-id.invalid")]


def trim_references(ids: list[str], limit: int = MAX_REFERENCES_CHARS) -> list[str]:
    """RFC 5322 advice: keep the first (the thread root) and as many of the latest as fit."""
    if not ids:
        return []
    kept = [ids[0]]
    tail: list[str] = []
    size = len(ids[0]) + 3
    for mid in reversed(ids[1:]):
        if size + len(mid) + 3 > limit:
            break
        tail.insert(0, mid)
        size += len(mid) + 3
    return kept + tail


def sender_address(conversation: Conversation, settings: OutboundSettings) -> str:
    if conversation.inbox.addresses:
        return conversation.inbox.addresses[0].address
    if settings.from_address:
        return settings.from_address
    # A chat inbox has no address: answer from the helpdesk's first email address, where the
    # shopper's reply will arrive and thread back by its In-Reply-To.
    session = object_session(conversation)
    query = select(InboxAddress.address).order_by(InboxAddress.id).limit(1)
    first = session.scalar(query) if session else None
    if first:
        return first
    raise jobs.Permanent(f"inbox {conversation.inbox.name!r} has no address and EMAIL_FROM is not set")


def build_mail(conversation: Conversation, *, body_text: str, author: str, message_id: str,
               settings: OutboundSettings, before_seq: int | None, automatic: bool = False,
               attachments: list[Any] = (), subject: str | None = None,  # type: ignore[assignment]
               body_html: str | None = None, to: list[str] | None = None,
               cc: list[str] = ()) -> EmailMessage:  # type: ignore[assignment]
    """The mail of one message. `to`/`cc` are the reply box's recipients (default: the customer);
    Bcc never appears here, only in the envelope (`send(..., to_addrs=)`)."""
    customer = conversation.customer
    if not to and not customer.email:
        raise jobs.Permanent("the customer has no email address")
    from_address = sender_address(conversation, settings)
    mail = EmailMessage(policy=MAIL_POLICY)
    local, _, domain = from_address.partition("@")
    mail["From"] = Address(display_name=one_line(f"{author} ({conversation.inbox.name})", 120),
                           username=local, domain=domain)
    mail["To"] = [_address(a, customer) for a in (to or [customer.email])]
    if cc:
        mail["Cc"] = [_address(a, customer) for a in cc]
    mail["Subject"] = one_line(subject, 250) if subject else subject_for(conversation)
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = f"<{message_id}>"
    if before_seq is not None:
        ids = thread_ids(conversation, before_seq)
        inbound = [m.email_message_id for m in conversation.messages
                   if m.email_message_id and m.seq < before_seq and m.author_type is AuthorType.customer]
        parent = inbound[-1] if inbound else (ids[-1] if ids else None)
        if parent:
            mail["In-Reply-To"] = f"<{parent}>"
        if ids:
            mail["References"] = " ".join(f"<{mid}>" for mid in trim_references(ids))
    if (conversation.inbox.settings or {}).get("reply_plus_address"):
        mail["Reply-To"] = reply_address(settings.secret, from_address, conversation.ref)
    if automatic:
        mail["Auto-Submitted"] = "auto-replied"  # RFC 3834: robots must not answer this
        mail["X-Auto-Response-Suppress"] = "All"
    mail["X-Helpdesk-Loop"] = loop_value(settings.secret, settings.domain, message_id)
    mail.set_content(body_text)
    mail.add_alternative(body_html or _html_body(body_text), subtype="html")
    for attachment in attachments:
        maintype, _, subtype = (attachment.content_type or "application/octet-stream").partition("/")
        mail.add_attachment(attachment.data, maintype=maintype or "application",
                            subtype=subtype or "octet-stream", filename=one_line(attachment.filename, 200))
    return mail


def _address(address: str, customer: Any) -> Address:
    """A header address; the customer's own keeps their name."""
    local, _, domain = address.partition("@")
    name = customer.name if customer.email and address.lower() == customer.email.lower() else ""
    return Address(display_name=one_line(name or "", 120), username=local, domain=domain)


def envelope(message: Message) -> list[str] | None:
    """Every recipient of a reply (Bcc included); None: the mail's own To (and Cc) headers."""
    meta = message.meta or {}
    rec = meta.get("recipients") or meta.get("forward")
    if not isinstance(rec, dict):
        return None
    return [*rec.get("to", []), *rec.get("cc", []), *rec.get("bcc", [])] or None


def _html_body(text: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>"
                         for p in text.split("\n\n") if p.strip())
    return ("<!doctype html><html><body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,"
            f"sans-serif;font-size:14px;line-height:1.5;color:#1f2430\">{paragraphs}</body></html>")


# -- SMTP ---------------------------------------------------------------------------------------

class TransientSMTP(Exception):
    pass


def send(mail: EmailMessage, smtp_url: str | None, *, timeout: float = 30,
         to_addrs: list[str] | None = None) -> None:
    """Send over SMTP: smtp://user:pass@host:port (?starttls=1), smtps:// for implicit TLS."""
    if not smtp_url:
        raise jobs.Permanent("HELPDESK_SMTP_URL is not set: no outbound mail")
    url = urlsplit(smtp_url)
    host, port = url.hostname or "127.0.0.1", url.port
    options = parse_qs(url.query)
    try:
        if url.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=timeout,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port or 25, timeout=timeout)
        with client:
            if options.get("starttls", ["0"])[0] in ("1", "true"):
                client.starttls(context=ssl.create_default_context())
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(mail, to_addrs=to_addrs)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _msg in exc.recipients.values()]
        if all(code >= 500 for code in codes):
            raise jobs.Permanent(f"recipient refused: {exc.recipients}") from None
        raise TransientSMTP(f"recipient deferred: {exc.recipients}") from None
    except smtplib.SMTPResponseException as exc:
        error = exc.smtp_error
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
        if exc.smtp_code >= 500:
            raise jobs.Permanent(f"SMTP {exc.smtp_code}: {text}") from None
        raise TransientSMTP(f"SMTP {exc.smtp_code}: {text}") from None
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        raise TransientSMTP(f"{type(exc).__name__}: {exc}") from None


# -- jobs ---------------------------------------------------------------------------------------

def _delivery_changed(session: Session, message: Message) -> None:
    events.record(session, DeliveryChanged(message.id, message.conversation_id, message.delivery.value))


def send_message_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send one agent's reply, in three phases: read and build the mail (a short transaction that
    also stores the Message-ID if the message had none, so every attempt carries the same one),
    talk to the SMTP server with no transaction open, then write the outcome. Temporary failures
    come back as RetryLater (no attempt used) until the retry window closes; a permanent answer,
    or the window's end, makes the job dead with the reason and the reply `failed`."""
    settings = OutboundSettings.from_config(ctx.settings)
    policy = RetryPolicy.from_config(ctx.settings)
    online: ShopperOnline | None = ctx.runtime.capability(SHOPPER_ONLINE_CAPABILITY)
    message_pk = int(payload["message_id"])
    with ctx.db.unit_of_work() as session:
        message = session.get(Message, message_pk)
        if message is None or message.meta.get("emailed_at"):
            return  # at-least-once delivery of the job; at-most-once of the mail we can tell about
        conversation = message.conversation
        # A forward leaves by email whatever the conversation's channel, and is tracked like a reply.
        channel = Channel.email if message.meta.get("forward") else conversation.channel
        if channel is Channel.chat and shopper_online(session, conversation, message, settings, online):
            message.meta = {**message.meta, "email_skipped": "shopper online"}
            return
        if not message.email_message_id:
            message.email_message_id = make_msgid(domain=settings.domain)[1:-1]  # committed before sending
        failures = int(message.meta.get("send_attempts", 0))
        since = retry_window_start(message, payload.get("retry_from"))
        rcpts = envelope(message)
        try:
            mail = mail_of(conversation, message, settings)
        except jobs.Permanent as exc:
            _settle_failed(message, channel, str(exc))
            error = str(exc)
        else:
            error = None
    if error is not None:
        if channel is Channel.chat:
            return  # the chat copy arrived; the note of the mail's failure is written
        raise jobs.Permanent(error)
    # No transaction is open while the SMTP server talks (on SQLite one would hold the write lock).
    try:
        send(mail, settings.smtp_url, to_addrs=rcpts)
    except jobs.Permanent as exc:
        with ctx.db.unit_of_work() as session:
            _settle_failed(session.get(Message, message_pk), channel, str(exc))
        if channel is Channel.chat:
            return  # the chat copy arrived: nothing is lost, nothing to retry
        raise
    except TransientSMTP as exc:
        failures += 1
        now = ctx.now()
        retry_at = policy.next_attempt(since, now, failures)
        reason = (f"gave up after {failures} attempts over {policy.retry_hours:g} h: {exc}" if retry_at is None
                  else str(exc))
        with ctx.db.unit_of_work() as session:
            message = session.get(Message, message_pk)
            message.meta = {**message.meta, "send_attempts": failures}
            if retry_at is None:
                _settle_failed(message, channel, reason)
            else:
                message.delivery_error = f"retrying: {reason}"[:500]
                if channel is Channel.email:
                    _delivery_changed(session, message)
        if retry_at is None:
            raise jobs.Permanent(reason) from None
        raise jobs.RetryLater((retry_at - now).total_seconds(),
                              f"SMTP temporary failure {failures}, next try {retry_at:%Y-%m-%d %H:%M:%S} UTC: "
                              f"{exc}") from None
    with ctx.db.unit_of_work() as session:
        message = session.get(Message, message_pk)
        if channel is Channel.email:
            message.delivery = Delivery.sent  # a chat message's delivery belongs to the chat room
            _delivery_changed(session, message)
        message.delivery_error = None
        message.meta = {**message.meta, "emailed_at": ctx.now().isoformat()}
        log.info("sent message %s by email", message.public_id)


def mail_of(conversation: Conversation, message: Message, settings: OutboundSettings) -> EmailMessage:
    """The mail a message leaves as: a reply (its recipients, threaded), the first mail of a
    conversation an agent started (no `Re:`), or a forward to someone else (forwarding.py)."""
    meta = message.meta or {}
    if isinstance(meta.get("forward"), dict):
        from helpdesk.tickets.email.forwarding import forward_content

        subject, text, files = forward_content(conversation, message)
        rec = meta["forward"]
        return build_mail(conversation, body_text=text, author=message.author_name,
                          message_id=message.email_message_id, settings=settings, before_seq=None,
                          attachments=files, subject=subject, to=rec.get("to"), cc=rec.get("cc") or [])
    rec = meta.get("recipients") if isinstance(meta.get("recipients"), dict) else {}
    return build_mail(conversation, body_text=message.body_text, author=message.author_name,
                      message_id=message.email_message_id, settings=settings,
                      before_seq=message.seq, attachments=list(message.attachments),
                      subject=subject_for(conversation, None) if meta.get("compose") else None,
                      to=rec.get("to") or None, cc=rec.get("cc") or [])


def plan_forward(session: Session, message: Message, settings: OutboundSettings) -> jobs.Job:
    """A forward is a private record on the conversation (the customer never sees it) with its
    own Message-ID and send job: plan_posted leaves private messages alone."""
    conversation = message.conversation
    message.email_message_id = message.email_message_id or make_message_id(
        settings.secret, settings.domain, conversation.public_id, message.public_id.split("_", 1)[-1])
    message.meta = {**(message.meta or {}), "outbound_planned": True}
    message.delivery = Delivery.sending
    return jobs.enqueue(session, SEND_JOB, {"message_id": message.id}, dedupe_key=f"email-send:{message.id}")


def _settle_failed(message: Message, channel: Channel, reason: str) -> None:
    """A reply that will not be delivered: `failed` with the reason (the console shows it with a
    Retry). A chat message's copy arrived in the chat: only a note of the mail's failure."""
    if channel is Channel.chat:
        message.meta = {**message.meta, "email_error": reason[:500]}
        return
    message.delivery = Delivery.failed
    message.delivery_error = reason[:500]
    session = object_session(message)
    if session is not None:
        _delivery_changed(session, message)


def shopper_online(session: Session, conversation: Conversation, message: Message,
                   settings: OutboundSettings, online: ShopperOnline | None = None) -> bool:
    if online is not None:
        return online(session, conversation)
    last = session.scalar(select(Message.created_at).filter_by(
        conversation_id=conversation.id, author_type=AuthorType.customer)
        .order_by(Message.seq.desc()).limit(1))
    if last is None:
        return False
    return last > message.created_at - timedelta(seconds=settings.chat_fallback_seconds) and last > _ago(
        settings.chat_fallback_seconds)


def _ago(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)


def acknowledge_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The automatic 'we got your message' mail, marked Auto-Submitted so robots stay quiet."""
    settings = OutboundSettings.from_config(ctx.settings)
    with ctx.db.unit_of_work() as session:
        conversation = session.get(Conversation, int(payload["conversation_id"]))
        if conversation is None:
            return
        _ = translations(conversation.customer.locale or DEFAULT_LOCALE).gettext
        text = (conversation.inbox.settings or {}).get("acknowledge_text") or (
            _("Hello,\n\nthank you for writing to %(inbox)s. We received your message and will answer as soon "
              "as we can. Your reference is #%(ref)s; keep it in the subject when you write about this again.\n")
            % {"inbox": conversation.inbox.name, "ref": conversation.ref})
        mail = build_mail(conversation, body_text=text, author=conversation.inbox.name,
                          message_id=make_message_id(settings.secret, settings.domain, conversation.public_id,
                                                     "acknowledgement"),
                          settings=settings, before_seq=conversation.last_seq + 1, automatic=True)
        session.rollback()  # no transaction (SQLite: no write lock) held while the SMTP server talks
        try:
            send(mail, settings.smtp_url)
        except TransientSMTP as exc:
            raise jobs.RetryLater(60, str(exc)) from None
