"""Outgoing webhook subscriptions, one delivery per (event, subscription), and each attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.db import Base, UTCDateTime, public_id, utcnow


class WebhookSubscription(Base):
    __tablename__ = "outgoing_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("wh"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Shared with the receiver, who verifies the signature with it; shown to admins only.
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """The body is fixed when the event happens: every retry sends the same bytes and id."""

    __tablename__ = "outgoing_webhook_deliveries"
    __table_args__ = (Index("ix_outgoing_webhook_deliveries_subscription_id_id", "subscription_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("whd"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("outgoing_webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending, delivered, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscription: Mapped[WebhookSubscription] = relationship()
    tries: Mapped[list[WebhookAttempt]] = relationship(order_by="WebhookAttempt.number",
                                                       cascade="all, delete-orphan", passive_deletes=True)


class WebhookAttempt(Base):
    __tablename__ = "outgoing_webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("outgoing_webhook_deliveries.id", ondelete="CASCADE"),
                                             index=True)
    number: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    response_excerpt: Mapped[str] = mapped_column(Text, default="")  # the first 1 kB
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
