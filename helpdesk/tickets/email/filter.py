"""Loops and noise: which inbound mails must never trigger an automatic mail, and the caps that
keep our own automatic mails from ping-ponging with another robot."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk.db import utcnow
from helpdesk.tickets.email.models import AutoMail
from helpdesk.tickets.email.parse import ParsedMail

BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
LOOP_HEADER = "X-Helpdesk-Loop"


def loop_value(secret: str, domain: str, message_id: str) -> str:
    """Our X-Helpdesk-Loop: the domain and an HMAC binding it to the mail's own Message-ID, so
    only a mail we sent carries a value that counts (anyone can write the header itself)."""
    mac = hmac.new(secret.encode(), f"loop|{domain}|{message_id}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{domain}; sig={mac}"


def is_our_loop(mail: ParsedMail, secret: str | None) -> bool:
    value = mail.headers.get("x-helpdesk-loop", "")
    if not value or not secret or not mail.message_id or "; sig=" not in value:
        return False
    domain = value.split(";", 1)[0].strip()
    return hmac.compare_digest(value.strip(), loop_value(secret, domain, mail.message_id))


def noise_kind(mail: ParsedMail, own_addresses: set[str], secret: str | None = None) -> str | None:
    """'own_address', 'bounce', 'auto_reply' or None for a mail a person wrote."""
    if mail.from_email.lower() in own_addresses or is_our_loop(mail, secret):
        return "own_address"
    if is_bounce(mail):
        return "bounce"
    if is_auto_reply(mail):
        return "auto_reply"
    return None


def is_bounce(mail: ParsedMail) -> bool:
    if mail.is_dsn:
        return True
    sender = mail.from_email.lower()
    local = sender.split("@", 1)[0]
    return local in ("mailer-daemon", "postmaster") and bool(mail.bounced_message_ids or mail.headers.get(
        "x-failed-recipients"))


def is_auto_reply(mail: ParsedMail) -> bool:
    """RFC 3834 and the de-facto headers of robots that ignore it."""
    h = mail.headers
    auto = h.get("auto-submitted", "").split(";", 1)[0].strip().lower()
    if auto and auto != "no":
        return True
    if h.get("precedence", "").strip().lower() in BULK_PRECEDENCE:
        return True
    if h.get("x-autoreply") or h.get("x-autorespond") or h.get("list-id") or h.get("list-unsubscribe"):
        return True
    return h.get("return-path", "").strip() in ("<>", "")  and "return-path" in h


def may_send_automatic(session: Session, address: str, *, cap: int, window: timedelta) -> bool:
    """At most `cap` automatic mails to one address per window: two robots answering each other
    stop after a few rounds even if every other guard fails."""
    since = utcnow() - window
    sent = session.scalar(select(func.count()).select_from(AutoMail).where(
        AutoMail.address == address.lower(), AutoMail.sent_at >= since)) or 0
    return sent < cap


def inbox_may_acknowledge(session: Session, inbox_id: int, *, cap: int, window: timedelta) -> bool:
    """At most `cap` acknowledgements from one inbox per window, to anyone: a flood of forged
    senders must not turn the inbox into a backscatter source."""
    since = utcnow() - window
    sent = session.scalar(select(func.count()).select_from(AutoMail).where(
        AutoMail.kind == ack_kind(inbox_id), AutoMail.sent_at >= since)) or 0
    return sent < cap


def ack_kind(inbox_id: int) -> str:
    return f"acknowledge:{inbox_id}"


def record_automatic(session: Session, address: str, kind: str) -> None:
    session.add(AutoMail(address=address.lower(), kind=kind))
    session.flush()
