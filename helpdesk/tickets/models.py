"""Inboxes, teams, conversations, messages and attachments."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.accounts.models import Agent
from helpdesk.crm.models import Customer
from helpdesk.db import Base, UTCDateTime, public_id, utcnow


class Channel(enum.StrEnum):
    chat = "chat"
    email = "email"
    phone = "phone"  # calls logged by agents (tickets/calls.py); nothing is sent on this channel


class Status(enum.StrEnum):
    open = "open"
    pending = "pending"
    snoozed = "snoozed"
    resolved = "resolved"


class Priority(enum.StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class AuthorType(enum.StrEnum):
    customer = "customer"
    agent = "agent"
    system = "system"


class CallDirection(enum.StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class Delivery(enum.StrEnum):
    sending = "sending"
    sent = "sent"
    failed = "failed"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16)


team_members = Table(
    "team_members", Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
)

inbox_members = Table(
    "inbox_members", Base.metadata,
    Column("inbox_id", ForeignKey("inboxes.id", ondelete="CASCADE"), primary_key=True),
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
)

conversation_tags = Table(
    "conversation_tags", Base.metadata,
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("tm"))
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[Agent]] = relationship(secondary=team_members, order_by=Agent.name)


class Inbox(Base):
    __tablename__ = "inboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("ib"))
    name: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    # Chat: the public key in the embed snippet, and the secret that signs identity HMACs.
    site_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    secret: Mapped[str | None] = mapped_column(String(128))
    # Email: the bearer token of POST /inbound/email/raw, stored as a SHA-256 hex digest.
    ingest_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    auto_assign: Mapped[bool] = mapped_column(Boolean, default=False)
    max_open_per_agent: Mapped[int] = mapped_column(Integer, default=0)  # 0: no limit
    # The first public reply of an agent takes an unassigned conversation (tickets/assignment.py).
    assign_on_reply: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Per-inbox options that do not deserve a column (pre-chat form, greeting, CSAT, ...).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    team: Mapped[Team | None] = relationship()
    addresses: Mapped[list[InboxAddress]] = relationship(back_populates="inbox",
                                                         cascade="all, delete-orphan")
    members: Mapped[list[Agent]] = relationship(secondary=inbox_members, order_by=Agent.name)


class InboxAddress(Base):
    __tablename__ = "inbox_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(254), unique=True)

    inbox: Mapped[Inbox] = relationship(back_populates="addresses")


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_status_activity", "status", "last_activity_at"),
        Index("ix_conversations_assignee_status_activity", "assignee_id", "status", "last_activity_at"),
        Index("ix_conversations_inbox_status_activity", "inbox_id", "status", "last_activity_at"),
        Index("ix_conversations_customer_created", "customer_id", "created_at"),
        # The queue's newest/oldest and priority sorts (queue_sorts.py) per status tab.
        Index("ix_conversations_status_created", "status", "created_at"),
        Index("ix_conversations_status_priority_activity", "status", "priority", "last_activity_at"),
        Index("ix_conversations_activity", "last_activity_at"),  # "Any status", a search's first tab
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("cv"))
    ref: Mapped[str] = mapped_column(String(16), unique=True)  # the [#REF] of email subjects
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    status: Mapped[Status] = mapped_column(_enum(Status), default=Status.open)
    priority: Mapped[Priority] = mapped_column(_enum(Priority), default=Priority.normal)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)

    inbox: Mapped[Inbox] = relationship()
    customer: Mapped[Customer] = relationship()
    assignee: Mapped[Agent | None] = relationship()
    team: Mapped[Team | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=conversation_tags, order_by=Tag.name)
    messages: Mapped[list[Message]] = relationship(back_populates="conversation", order_by="Message.seq",
                                                   cascade="all, delete-orphan")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("conversation_id", "client_msg_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("msg"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    client_msg_id: Mapped[str | None] = mapped_column(String(64))
    author_type: Mapped[AuthorType] = mapped_column(_enum(AuthorType))
    author_id: Mapped[int | None] = mapped_column(Integer)
    author_name: Mapped[str] = mapped_column(String(200), default="")
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)  # sanitised; None for plain messages
    email_message_id: Mapped[str | None] = mapped_column(String(998), unique=True)
    delivery: Mapped[Delivery | None] = mapped_column(_enum(Delivery))
    delivery_error: Mapped[str | None] = mapped_column(String(500))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # e.g. why an email was threaded
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="message",
                                                         cascade="all, delete-orphan")
    call: Mapped[PhoneCall | None] = relationship(back_populates="message", cascade="all, delete-orphan",
                                                  uselist=False)


class PhoneCall(Base):
    """A call an agent logged: its message in the timeline holds the notes (tickets/calls.py)."""

    __tablename__ = "phone_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("call"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    direction: Mapped[CallDirection] = mapped_column(_enum(CallDirection))
    duration_seconds: Mapped[int] = mapped_column(Integer, default=0)
    phone: Mapped[str] = mapped_column(String(40), default="")
    recording_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[Message] = relationship(back_populates="call")
    agent: Mapped[Agent | None] = relationship()


class SearchEntry(Base):
    """Searchable text of a conversation, one row per message, header or linked order (see search.py)."""

    __tablename__ = "search_entries"
    __table_args__ = (Index("ix_search_entries_conversation_source", "conversation_id", "source"),)

    # Not a counter: conversation_id * 2**20 + slot (0 the header, a message its seq, extras from the
    # top down), so a full-text hit names its conversation without a lookup (search.SLOTS).
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=False)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    source: Mapped[str] = mapped_column(String(16))  # m: a message, c: the header, o<id>: a linked order
    text: Mapped[str] = mapped_column(Text, default="")


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("at"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"),
                                                   index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content_id: Mapped[str | None] = mapped_column(String(255))  # cid: of inline email images
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[Message | None] = relationship(back_populates="attachments")


class CannedReply(Base):
    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("cr"))
    shortcut: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AgentSignature(Base):
    """An agent's own email signature (tickets/replies.py: it wins over the inbox's)."""

    __tablename__ = "agent_signatures"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    body: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
