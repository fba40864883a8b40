"""Chat visitors: the widget's anonymous key to one customer of one site."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.crm.models import Customer
from helpdesk.db import Base, UTCDateTime, public_id, utcnow
from helpdesk.tickets.models import Attachment, Inbox


class ChatVisitor(Base):
    """A browser holding a visitor token. The token itself is never stored: only its SHA-256,
    so a leaked database does not let anyone read a shopper's chats."""

    __tablename__ = "chat_visitors"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("vi"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"), index=True)
    # None until the visitor first writes or leaves contact details: a page view alone must not
    # fill the customer list with empty "Visitor" records.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"),
                                                    index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set while a browser of this visitor is on /widget, refreshed by the web process, cleared on
    # its last disconnect: the job worker (another process) reads presence here (chat/online.py).
    connected_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    inbox: Mapped[Inbox] = relationship()
    customer: Mapped[Customer | None] = relationship()


class ChatUpload(Base):
    """Which visitor uploaded a file not yet sent: only they may attach it to a message."""

    __tablename__ = "chat_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"), unique=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("chat_visitors.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    attachment: Mapped[Attachment] = relationship()
