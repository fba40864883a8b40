"""Business-hours calendars, SLA policies and each conversation's SLA clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.db import Base, UTCDateTime, public_id, utcnow
from helpdesk.tickets.models import Conversation

METRICS = ("first_response", "next_response", "resolution")


class BusinessHours(Base):
    __tablename__ = "business_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("bh"))
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    # {"mon": [["09:00", "17:00"]], ...} as validated by sla.calendar.parse
    hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SlaPolicy(Base):
    __tablename__ = "sla_policies"
    __table_args__ = (Index("ix_sla_policies_position", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("sla"))
    name: Mapped[str] = mapped_column(String(120), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # None: the clock runs 24/7.
    business_hours_id: Mapped[int | None] = mapped_column(ForeignKey("business_hours.id", ondelete="RESTRICT"))
    # {inbox?: public id, channel?: "chat"|"email", priority?: [..], tags?: [..]}; empty matches all
    match: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    next_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    business_hours: Mapped[BusinessHours | None] = relationship()


class ConversationSla(Base):
    """One conversation's clock. Everything but the pauses and the next-response anchor can be
    recomputed from the conversation and its policy, which is what happens on every change."""

    __tablename__ = "conversation_sla"
    __table_args__ = (Index("ix_conversation_sla_next_due", "next_due_at"),
                      Index("ix_conversation_sla_check_at", "check_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"),
                                                 unique=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"),
                                                  index=True)
    # Closed waiting-on-the-customer spans [[start, end], ...] (ISO), and the open one's start.
    pauses: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The customer message since the last agent reply that starts the next-response clock.
    awaiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The earliest due time not met yet, breached or not: the queue's sort and badge.
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The earliest due time neither met nor breached yet: when the worker's sweep looks again.
    check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    conversation: Mapped[Conversation] = relationship()
    policy: Mapped[SlaPolicy | None] = relationship()
    breaches: Mapped[list[SlaBreach]] = relationship(back_populates="sla", order_by="SlaBreach.due_at",
                                                     cascade="all, delete-orphan")


class SlaBreach(Base):
    """A due time that passed unmet. One row per metric and due time, so a re-run sweep or a late
    reply after the sweep never records it twice."""

    __tablename__ = "sla_breaches"
    __table_args__ = (UniqueConstraint("sla_id", "metric", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sla_id: Mapped[int] = mapped_column(ForeignKey("conversation_sla.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"))
    metric: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sla: Mapped[ConversationSla] = relationship(back_populates="breaches")
