"""What shoppers did for themselves in the widget: order lookups, tracking, cancel and return requests."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.db import Base, UTCDateTime, public_id, utcnow
from helpdesk.orders.models import Order


class Kind(enum.StrEnum):
    lookup = "lookup"  # found an order by number and email: answered, no agent
    track = "track"  # asked where the parcel is: answered from stored fulfilments, no agent
    cancel = "cancel"  # asks to cancel an unfulfilled order: an agent carries it out
    return_ = "return"  # asks to return items: an agent refunds them (with restock)


class Status(enum.StrEnum):
    requested = "requested"
    approved = "approved"  # the agent sent the order action; the shop has not answered yet
    declined = "declined"
    done = "done"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class SelfServiceRequest(Base):
    __tablename__ = "self_service_requests"
    __table_args__ = (Index("ix_self_service_requests_kind_created", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("ss"))
    kind: Mapped[Kind] = mapped_column(_enum(Kind))
    status: Mapped[Status] = mapped_column(_enum(Status), default=Status.requested)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"),
                                                        index=True)
    # [{id, title, quantity}] of a return: the platform's line item ids, as the order actions take them.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)  # the shopper's own words, if any
    decline_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)  # the shop's message when the action failed
    order_action_id: Mapped[int | None] = mapped_column(ForeignKey("order_actions.id", ondelete="SET NULL"))
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    handled_by_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship()
