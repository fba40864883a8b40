"""Orders from the shops, their items, fulfilments and refunds; links to conversations; webhook log."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.crm.models import Customer
from helpdesk.db import Base, UTCDateTime, public_id, utcnow

MONEY = Numeric(14, 2)


class LinkState(enum.StrEnum):
    linked = "linked"
    suggested = "suggested"  # a number in the text matched an order of someone else: the agent decides
    dismissed = "dismissed"  # unlinked by hand: recognition must not link it again


class DeliveryState(enum.StrEnum):
    processed = "processed"
    parked = "parked"  # accepted, but could not be applied (kept with the error for an admin)


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("platform", "shop", "order_id"),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("or"))
    platform: Mapped[str] = mapped_column(String(32))
    shop: Mapped[str] = mapped_column(String(255))
    order_id: Mapped[str] = mapped_column(String(64))  # the platform's id
    number: Mapped[str] = mapped_column(String(64), index=True)  # "1001": what shoppers write
    name: Mapped[str] = mapped_column(String(64), default="")  # "#1001": what the shop shows
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    status: Mapped[str] = mapped_column(String(32), default="open")  # open, closed, cancelled
    financial_status: Mapped[str | None] = mapped_column(String(32))  # paid, refunded, ...
    fulfillment_status: Mapped[str | None] = mapped_column(String(32))  # fulfilled, partial, ...
    gateway: Mapped[str | None] = mapped_column(String(64))
    payment_reference: Mapped[str | None] = mapped_column(String(255))  # Stripe ch_/pi_, PayPal capture id
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    subtotal: Mapped[Decimal | None] = mapped_column(MONEY)
    shipping_total: Mapped[Decimal | None] = mapped_column(MONEY)
    tax_total: Mapped[Decimal | None] = mapped_column(MONEY)
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    refunded_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(120))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The platform's own updated_at: an update older than this is stale and is ignored.
    platform_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer | None] = relationship()
    line_items: Mapped[list[OrderLineItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLineItem.position")
    fulfillments: Mapped[list[Fulfillment]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Fulfillment.id")
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Refund.id")

    @property
    def display_name(self) -> str:
        return self.name or f"#{self.number}"

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None


class OrderLineItem(Base):
    __tablename__ = "order_line_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    external_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    variant: Mapped[str | None] = mapped_column(String(255))
    sku: Mapped[str | None] = mapped_column(String(120))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    price: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))

    order: Mapped[Order] = relationship(back_populates="line_items")


class Fulfillment(Base):
    __tablename__ = "order_fulfillments"
    __table_args__ = (UniqueConstraint("order_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(32))
    carrier: Mapped[str | None] = mapped_column(String(120))
    tracking_number: Mapped[str | None] = mapped_column(String(120))
    tracking_url: Mapped[str | None] = mapped_column(String(1000))
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="fulfillments")


class Refund(Base):
    __tablename__ = "order_refunds"
    __table_args__ = (UniqueConstraint("order_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    note: Mapped[str | None] = mapped_column(Text)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="refunds")


class ConversationOrder(Base):
    """An order a conversation is about: linked, offered for linking, or unlinked by hand."""

    __tablename__ = "conversation_orders"
    __table_args__ = (UniqueConstraint("conversation_id", "order_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    state: Mapped[LinkState] = mapped_column(_enum(LinkState), default=LinkState.linked)
    source: Mapped[str] = mapped_column(String(16), default="agent")  # agent, api, auto, shopper
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    order: Mapped[Order] = relationship()


class WebhookDelivery(Base):
    """Every accepted webhook, once: a repeat of (source, webhook_id) changes nothing."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("source", "webhook_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    webhook_id: Mapped[str] = mapped_column(String(128))
    topic: Mapped[str] = mapped_column(String(64))
    shop: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[DeliveryState] = mapped_column(_enum(DeliveryState), default=DeliveryState.processed)
    error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # kept only when parked
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncState(Base):
    """Per platform and shop: where the Magento pull and the backfill have got to."""

    __tablename__ = "order_sync_state"
    __table_args__ = (UniqueConstraint("platform", "shop"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    shop: Mapped[str] = mapped_column(String(255))
    watermark: Mapped[str | None] = mapped_column(String(64))  # Magento: the last updated_at pulled
    backfill_state: Mapped[str] = mapped_column(String(16), default="idle")  # idle, running, done, failed
    backfill_cursor: Mapped[str | None] = mapped_column(String(500))
    backfill_seen: Mapped[int] = mapped_column(Integer, default=0)
    backfill_total: Mapped[int | None] = mapped_column(Integer)
    backfill_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Shop(Base):
    """A connected shop: several per platform, each with its own credentials (secrets write-only)."""

    __tablename__ = "shops"
    __table_args__ = (UniqueConstraint("platform", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))  # what orders.shop holds: domain or store hash
    credentials: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ActionStatus(enum.StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"


class OrderAction(Base):
    """An agent's refund, cancel, reship, ... of an order, carried out on the shop by a job.
    The (order, idempotency key) pair is unique: a retried request gets the first action back."""

    __tablename__ = "order_actions"
    __table_args__ = (UniqueConstraint("order_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("oa"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[ActionStatus] = mapped_column(_enum(ActionStatus), default=ActionStatus.pending)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the checked request
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    actor_role: Mapped[str | None] = mapped_column(String(16))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    notify_customer: Mapped[bool] = mapped_column(default=False)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship()
