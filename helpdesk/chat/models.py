"""Chat visitors: the widget's anonymous key to one customer of one site."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
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
    # Set only by a valid identity HMAC from the shop. Verification belongs to this browser, not to
    # the customer record: a merge can bring a verified identity onto the customer an anonymous
    # browser writes as, and that must not make the browser verified.
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set while a browser of this visitor is on /widget, refreshed by the web process, cleared on
    # its last disconnect: the job worker (another process) reads presence here (chat/online.py).
    connected_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the shopper is, as of their latest connect: the shop page, how they got to it, and
    # their browser. Shown to agents beside the chat; erased with the customer.
    page_url: Mapped[str | None] = mapped_column(String(1000))
    referrer: Mapped[str | None] = mapped_column(String(1000))
    user_agent: Mapped[str | None] = mapped_column(String(400))

    inbox: Mapped[Inbox] = relationship()
    customer: Mapped[Customer | None] = relationship()


class VisitorConversation(Base):
    """A conversation this browser started (or was verified for): what an unverified visitor may
    see. Their customer record can be merged with anyone's; this list cannot."""

    __tablename__ = "chat_visitor_conversations"
    __table_args__ = (UniqueConstraint("visitor_id", "conversation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("chat_visitors.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatUpload(Base):
    """Which visitor uploaded a file not yet sent: only they may attach it to a message."""

    __tablename__ = "chat_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"), unique=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("chat_visitors.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    attachment: Mapped[Attachment] = relationship()
