"""HTTP transports: POST /inbound/email/raw|mailgun|sendgrid|postmark. Each authenticates the
request, extracts the raw RFC 822 bytes and hands them to the one ingestion path."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.errors import Invalid, Unauthorized
from helpdesk.runtime import current_runtime
from helpdesk.tickets import services as tickets
from helpdesk.tickets.email import ingest, transport
from helpdesk.tickets.email.models import MailStatus
from helpdesk.tickets.models import Inbox, InboxAddress
from helpdesk.web import database, db_session, limit_inbound

bp = Blueprint("email_inbound", __name__, url_prefix="/inbound/email")
bp.before_request(limit_inbound)

MAILGUN_MAX_AGE = 15 * 60  # seconds: older signed requests are replays


@dataclass
class Delivery:
    raw: bytes
    inbox_id: int | None


def ingest_token() -> str:
    """The inbox's ingest token: Bearer header, Basic password (what SendGrid and Postmark can
    put in a webhook URL), or ?token= as a last resort."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if request.authorization and request.authorization.password:
        return request.authorization.password
    return request.args.get("token", "")


def inbox_by_token(session: Session) -> Inbox:
    inbox = tickets.inbox_for_ingest_token(session, ingest_token())
    if inbox is None:
        raise Unauthorized("a valid ingest token is required", code="bad_ingest_token")
    return inbox


class RawTransport:
    name: ClassVar[str] = "raw"

    def extract(self, session: Session) -> Delivery:
        inbox = inbox_by_token(session)
        raw = request.get_data(cache=False)
        if not raw.strip():
            raise Invalid("body", "the raw RFC 822 message is empty", code="empty_mail")
        return Delivery(raw, inbox.id)


class MailgunTransport:
    """Mailgun's 'store and notify' / MIME route: body-mime, signed with the webhook signing key."""

    name: ClassVar[str] = "mailgun"

    def extract(self, session: Session) -> Delivery:
        key = current_app.config.get("MAILGUN_SIGNING_KEY") or ""
        form = request.form
        timestamp, token = form.get("timestamp", ""), form.get("token", "")
        signature = form.get("signature", "")
        expected = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
        if not key or not signature or not hmac.compare_digest(expected, signature):
            raise Unauthorized("bad Mailgun signature", code="bad_signature")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAILGUN_MAX_AGE:
            raise Unauthorized("stale Mailgun signature", code="stale_signature")
        # Mailgun's token is unique per request: a second use inside the window is a replay.
        # (The rate limiter's storage: in memory, or shared through Redis when it is set.)
        from limits import parse

        from helpdesk.extensions import limiter

        if not limiter.limiter.hit(parse("1 per 16 minutes"), "mailgun-token", hashlib.sha256(
                f"{timestamp}{token}".encode()).hexdigest()):
            raise Unauthorized("this signed Mailgun request was already received", code="replayed_signature")
        raw = form.get("body-mime", "")
        if not raw:
            raise Invalid("body-mime", "missing: configure the route to forward the MIME message",
                          code="empty_mail")
        inbox_id = None
        if recipient := (form.get("recipient") or "").strip().lower():
            inbox_id = session.scalar(select(InboxAddress.inbox_id).filter_by(address=recipient))
        return Delivery(raw.encode("utf-8", "surrogateescape"), inbox_id)


class SendGridTransport:
    """SendGrid Inbound Parse with 'POST the raw, full MIME message': the `email` field."""

    name: ClassVar[str] = "sendgrid"

    def extract(self, session: Session) -> Delivery:
        inbox = inbox_by_token(session)
        raw = request.form.get("email", "")
        if not raw:
            raise Invalid("email", "missing: enable 'POST the raw, full MIME message'", code="empty_mail")
        return Delivery(raw.encode("utf-8", "surrogateescape"), inbox.id)


class PostmarkTransport:
    """Postmark inbound webhook with 'Include raw email content': the `RawEmail` field."""

    name: ClassVar[str] = "postmark"

    def extract(self, session: Session) -> Delivery:
        inbox = inbox_by_token(session)
        data = request.get_json(silent=True)
        raw = data.get("RawEmail") if isinstance(data, dict) else None
        if not isinstance(raw, str) or not raw:
            raise Invalid("RawEmail", "missing: enable raw email content in the inbound stream",
                          code="empty_mail")
        if data.get("RawEmailEncoding") == "base64":  # not sent today; cheap to accept
            try:
                return Delivery(base64.b64decode(raw, validate=True), inbox.id)
            except binascii.Error:
                raise Invalid("RawEmail", "not valid base64", code="invalid_base64") from None
        return Delivery(raw.encode("utf-8", "surrogateescape"), inbox.id)


def _receive(name: str) -> Any:
    # A whole mail arrives as one form field: allow it past Werkzeug's 500 kB default, up to
    # twice our limit so an oversize mail is still stored (and rejected) rather than lost.
    # Beyond that the request itself is refused (413) before it is read into memory.
    ceiling = 2 * int(current_app.config.get("EMAIL_MAX_BYTES") or 25 * 2**20) + 2**20
    request.max_form_memory_size = ceiling
    request.max_content_length = ceiling
    delivery = transport(name)().extract(db_session())
    db_session().rollback()  # authentication only read; ingestion runs its own transactions
    settings = ingest.MailSettings.from_config(current_app.config)
    db = database()
    with db.unit_of_work() as session:
        inbox = session.get(Inbox, delivery.inbox_id) if delivery.inbox_id else None
        inbound = ingest.accept(session, delivery.raw, transport=name, inbox=inbox, settings=settings)
        inbound_id, raw_id, rejected = inbound.id, inbound.public_id, inbound.status is MailStatus.rejected
    if rejected:
        body = {"error": {"code": "mail_too_large",
                          "message": f"the mail is over {settings.max_bytes} bytes; it was kept for an admin "
                                     "but will not be processed"},
                "inbound_id": raw_id}
        return jsonify(body), 413
    # The worker parses it; the sender gets PROTOCOL.md's answer when the worker is quick, else
    # "queued" with the stored mail's id (the mail is safe either way: it is stored).
    outcome = ingest.wait_for_outcome(db, inbound_id, seconds=float(current_app.config["EMAIL_INGEST_WAIT_SECONDS"]),
                                      pause=ingest_pause())
    if outcome is None:
        return jsonify({"action": "queued", "raw_id": raw_id, "inbound_id": raw_id,
                        "conversation_id": None, "message_id": None}), 202
    return jsonify(outcome.as_json()), 202


def ingest_pause() -> Callable[[int, float], object]:
    """How the request waits between two looks at the mail: a plain sleep (under gevent it
    yields to every other greenlet); tests put a stand-in worker here."""
    return current_runtime().capability(PAUSE_CAPABILITY) or _sleep


def _sleep(_inbound_id: int, seconds: float) -> None:
    time.sleep(seconds)


PAUSE_CAPABILITY = "email.ingest_pause"


@bp.post("/raw")
def raw() -> Any:
    return _receive("raw")


@bp.post("/mailgun")
def mailgun() -> Any:
    return _receive("mailgun")


@bp.post("/sendgrid")
def sendgrid() -> Any:
    return _receive("sendgrid")


@bp.post("/postmark")
def postmark() -> Any:
    return _receive("postmark")
