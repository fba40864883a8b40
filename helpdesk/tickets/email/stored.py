"""The stored display of customer mails: written by the worker when a mail is ingested (or by the
backfill job for mails older than the table), read by the console. Opening a conversation never
folds, sanitises or parses anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from helpdesk.crm import services as crm
from helpdesk.crm.merging import CustomerErased
from helpdesk.crm.models import Customer
from helpdesk.db import Database
from helpdesk.runtime import JobContext
from helpdesk.tickets.email import display
from helpdesk.tickets.email.models import EmailDisplay
from helpdesk.tickets.models import AuthorType, Conversation, Message


def needs_display(message: Message) -> bool:
    """Customer mails get a stored display; agents' and chat messages show their text as is."""
    return message.author_type is AuthorType.customer and "email" in (message.meta or {})


def store_display(session: Session, message: Message, prepared: display.Prepared | None = None) -> EmailDisplay:
    """Write (or overwrite) the display of one message; computed here when not given (CPU work:
    worker only, and better before the transaction, as ingestion does)."""
    if prepared is None:
        session.flush()  # the attachments' public ids go into the cid: image URLs
        prepared = display.prepare(message.body_text, message.body_html, list(message.attachments))
    row = session.get(EmailDisplay, message.id)
    if row is None:
        row = EmailDisplay(message_id=message.id)
        session.add(row)
    row.version = display.DISPLAY_VERSION
    row.html = prepared.html
    row.quoted = prepared.quoted
    row.blocked_images = prepared.blocked_images
    row.html_remote = prepared.html_remote
    row.quoted_remote = prepared.quoted_remote
    return row


def displays_of(session: Session, conversation_id: int) -> dict[int, EmailDisplay]:
    rows = session.scalars(select(EmailDisplay).join(Message, Message.id == EmailDisplay.message_id)
                           .where(Message.conversation_id == conversation_id))
    return {row.message_id: row for row in rows}


def missing_displays(session: Session, limit: int) -> list[Message]:
    """Customer mails without a current display, newest first (the ones agents open next)."""
    query = (select(Message).outerjoin(EmailDisplay, EmailDisplay.message_id == Message.id)
             .where(Message.author_type == AuthorType.customer, Message.email_message_id.is_not(None),
                    (EmailDisplay.message_id.is_(None)) | (EmailDisplay.version < display.DISPLAY_VERSION))
             .order_by(Message.id.desc()).limit(limit))
    return [m for m in session.scalars(query) if needs_display(m)]


# -- the backlog: mails stored before displays were -------------------------------------------

BACKFILL_JOB = "email.display_backfill"
BACKFILL_EVERY_SECONDS = 300.0
BACKFILL_BATCH = 50


def backfill(db: Database, limit: int = BACKFILL_BATCH) -> int:
    """Compute missing displays, a few at a time: read (short transaction), render (none open),
    write (short transaction). Returns how many were written."""
    with db.unit_of_work() as session:
        todo = [(m.id, m.body_text, m.body_html,
                 [_Ref(a.public_id, a.content_id) for a in m.attachments])
                for m in missing_displays(session, limit)]
    rendered = [(mid, display.prepare(text, html, list(refs))) for mid, text, html, refs in todo]
    with db.unit_of_work() as session:
        for mid, prepared in rendered:
            message = session.get(Message, mid)
            if message is not None:
                store_display(session, message, prepared)
    return len(rendered)


def backfill_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Periodic: each run drains the backlog in batches (new mails get theirs at ingest)."""
    for _ in range(100):  # bounded per run; the next run goes on
        if ctx.lease_lost or backfill(ctx.db) < BACKFILL_BATCH:
            return


@dataclass(frozen=True)
class _Ref:
    public_id: str
    content_id: str | None


def forget_erased(session: Session, ev: CustomerErased) -> None:
    """In the erasing transaction (GDPR erasure rewrites the message bodies): the stored displays
    of that customer's mails go too (customers360.erasure deletes the raw mails they came from)."""
    customer = session.get(Customer, ev.customer_id)
    ids = crm.merged_ids(session, customer) if customer is not None else [ev.customer_id]
    conversations = select(Conversation.id).where(Conversation.customer_id.in_(ids))
    messages = select(Message.id).where(Message.conversation_id.in_(conversations))
    session.execute(delete(EmailDisplay).where(EmailDisplay.message_id.in_(messages)))
