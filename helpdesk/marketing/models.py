"""Where a customer's marketing consent stands in the shop's email tool (a Mailchimp audience)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import Base, UTCDateTime, utcnow


class SyncState(enum.StrEnum):
    pending = "pending"  # a sync job is queued or running
    synced = "synced"
    failed = "failed"  # the provider refused for good (last_error says why); a new change tries again


class MarketingSync(Base):
    """One row per customer and provider: the 360 page shows it; the sync job keeps it."""

    __tablename__ = "marketing_syncs"
    __table_args__ = (UniqueConstraint("provider", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), default="mailchimp")
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    state: Mapped[SyncState] = mapped_column(Enum(SyncState, native_enum=False, length=16),
                                             default=SyncState.pending)
    status: Mapped[str | None] = mapped_column(String(16))  # subscribed | unsubscribed, as last sent
    last_error: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
