"""What the email channel stores besides messages: every raw inbound mail, IMAP cursors, and the
log of automatic mails that enforces per-sender caps."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.db import Base, UTCDateTime, public_id, utcnow
from helpdesk.tickets.models import Inbox


class MailStatus(enum.StrEnum):
    received = "received"    # stored, not parsed yet (or parsing crashed the process)
    processed = "processed"  # became a message (created or appended)
    ignored = "ignored"      # duplicate, loop, bounce without a conversation, ...
    failed = "failed"        # parsing or threading raised: kept for an admin to re-process
    rejected = "rejected"    # over the size limit: kept, never parsed


class InboundMail(Base):
    """A raw mail as it arrived, written before anything tries to parse it."""

    __tablename__ = "inbound_mails"
    __table_args__ = (Index("ix_inbound_mails_status_received", "status", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("im"))
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inboxes.id", ondelete="SET NULL"), index=True)
    transport: Mapped[str] = mapped_column(String(32))
    raw: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    size: Mapped[int] = mapped_column(Integer)
    # Sniffed from the raw bytes before parsing, for the admin list; not unique (the unique one
    # is Message.email_message_id): a duplicate is stored as raw and then ignored.
    message_id_header: Mapped[str | None] = mapped_column(String(998))
    sender: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[MailStatus] = mapped_column(Enum(MailStatus, native_enum=False, length=16),
                                               default=MailStatus.received)
    reason: Mapped[str | None] = mapped_column(String(64))
    # What processing did (created | appended | ignored | failed): the webhook that queued the
    # parse reads it back to answer with PROTOCOL.md's `action`.
    action: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    inbox: Mapped[Inbox | None] = relationship()


class ImapCursor(Base):
    """How far an inbox's IMAP folder has been read: UIDs are only meaningful under one UIDVALIDITY."""

    __tablename__ = "imap_cursors"
    __table_args__ = (UniqueConstraint("inbox_id", "folder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)  # 32-bit unsigned on the wire
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))


class AutoMail(Base):
    """One automatic mail we sent (acknowledgement, ...): counted for per-recipient caps."""

    __tablename__ = "email_auto_mails"
    __table_args__ = (Index("ix_email_auto_mails_address_sent", "address", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailDisplay(Base):
    """What the console shows of one customer mail, computed once in the worker at ingest (folded,
    sanitised, cid images pointed at their attachments) so that opening a conversation only reads
    it. `*_remote` hold the variant with remote images loaded, when the mail had any."""

    __tablename__ = "email_displays"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)  # display.DISPLAY_VERSION it was computed with
    html: Mapped[str] = mapped_column(Text)
    quoted: Mapped[str] = mapped_column(Text)
    blocked_images: Mapped[int] = mapped_column(Integer, default=0)
    html_remote: Mapped[str | None] = mapped_column(Text)
    quoted_remote: Mapped[str | None] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
