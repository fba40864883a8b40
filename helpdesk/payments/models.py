"""What the payment providers said about an order's payment, stored so pages never call them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.db import Base, UTCDateTime, utcnow
from helpdesk.orders.models import MONEY, Order


class Payment(Base):
    """An order's payment as last fetched from Stripe or PayPal (one per order)."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    provider: Mapped[str] = mapped_column(String(16))  # stripe, paypal
    # found: fetched; not_found: the provider knows no such payment; failed: it refused us (error)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reference: Mapped[str | None] = mapped_column(String(255))  # ch_..., a PayPal capture id
    status: Mapped[str | None] = mapped_column(String(32))  # the provider's: succeeded, COMPLETED, ...
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    captured: Mapped[Decimal | None] = mapped_column(MONEY)
    refunded: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    method: Mapped[str | None] = mapped_column(String(120))  # "visa •••• 4242", "PayPal"
    refunds: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    order: Mapped[Order] = relationship()


class Dispute(Base):
    """A chargeback or PayPal dispute; one conversation per dispute (webhooks open it)."""

    __tablename__ = "payment_disputes"
    __table_args__ = (UniqueConstraint("provider", "dispute_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    dispute_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    reference: Mapped[str | None] = mapped_column(String(255))  # the disputed charge / transaction
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(64))
    evidence_due_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The provider's time of the newest event applied: an older one arriving late changes nothing.
    event_time: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def open(self) -> bool:
        return self.status not in ("won", "lost", "charge_refunded", "RESOLVED", "prevented")
