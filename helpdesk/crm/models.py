"""Customers and the identities that resolve to them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.db import Base, UTCDateTime, public_id, utcnow


class IdentityKind(enum.StrEnum):
    email = "email"
    phone = "phone"
    visitor = "visitor"
    external = "external"  # a record in a CRM or shop: provider says which


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("cu"))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    # The language automatic mails to them are written in, where known (helpdesk.i18n.LOCALES).
    locale: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set when this customer was merged into another: kept so old links still resolve.
    # Indexed: every 360 and conversation page asks which customers were merged into this one.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # Email marketing consent (helpdesk/marketing): None = never asked. Who and how it was last
    # set is kept here for the 360 page; every change is also in the audit log.
    marketing_consent: Mapped[bool | None] = mapped_column(Boolean)
    marketing_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    marketing_consent_source: Mapped[str | None] = mapped_column(String(16))  # widget | console | api
    marketing_consent_by: Mapped[str | None] = mapped_column(String(200))  # the agent's name, or "customer"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    identities: Mapped[list[Identity]] = relationship(back_populates="customer",
                                                      cascade="all, delete-orphan")

    @property
    def display_name(self) -> str:
        # An anonymous chat shopper: "Visitor 7QK2" from their record's id, so two are told apart.
        return self.name or self.email or self.phone or f"Visitor {(self.public_id or '')[-4:].upper()}".strip()


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "provider", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[IdentityKind] = mapped_column(Enum(IdentityKind, native_enum=False, length=16))
    # "" for email, phone and visitor; "hubspot", "shopify:shop.example", ... for external ids.
    provider: Mapped[str] = mapped_column(String(120), default="")
    value: Mapped[str] = mapped_column(String(254))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identities")


class CrmContact(Base):
    """A customer's record in a CRM and the snapshot of it the 360 view shows.

    (provider, external_id) is unique: one CRM contact belongs to at most one customer, so a
    retried pull or a second customer claiming the same contact never makes a second link."""

    __tablename__ = "crm_contacts"
    __table_args__ = (UniqueConstraint("provider", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    company: Mapped[str | None] = mapped_column(String(200))
    lifecycle: Mapped[str | None] = mapped_column(String(64))  # lifecycle stage or lead status
    owner: Mapped[str | None] = mapped_column(String(200))
    deals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    url: Mapped[str | None] = mapped_column(String(500))
    remote_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship()


class LinkState(enum.StrEnum):
    creating = "creating"  # the remote create was attempted; a retry must look before it creates
    linked = "linked"


class CrmConversationLink(Base):
    """A conversation's ticket (HubSpot) or Case (Salesforce).

    The conversation is named by its row id without a foreign key: crm/ sits below tickets/ and
    must not depend on its tables. Unique per (provider, conversation): a retried push finds the
    link instead of creating a second ticket."""

    __tablename__ = "crm_conversation_links"
    __table_args__ = (UniqueConstraint("provider", "conversation_id"),
                      UniqueConstraint("provider", "external_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[int] = mapped_column()
    conversation_ref: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(64))
    contact_external_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[LinkState] = mapped_column(Enum(LinkState, native_enum=False, length=16),
                                             default=LinkState.creating)
    url: Mapped[str | None] = mapped_column(String(500))
    transcript_pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    csat_pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CrmSyncState(Base):
    """Per provider: the pull watermark, the cursor of a pass in progress, counts and the last error."""

    __tablename__ = "crm_sync_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), unique=True)
    # Records changed at or after the watermark are pulled by the next pass.
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A pass in progress: {"since": iso, "after": token, "high": iso}; kept so a stopped pass resumes.
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    full: Mapped[bool] = mapped_column(Boolean, default=False)
    pass_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_pull_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # The last failure, shown on the admin page; auth_failed stops scheduled pulls until fixed.
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auth_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CrmWebhookDelivery(Base):
    """Deliveries already handled: a repeat of the same event id changes nothing."""

    __tablename__ = "crm_webhook_deliveries"
    __table_args__ = (UniqueConstraint("provider", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[str] = mapped_column(String(120))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerNote(Base):
    __tablename__ = "customer_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("cn"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column()
    author_name: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerMerge(Base):
    """One merge (or split): what moved where, so a wrong merge can be split off again."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(16))  # "merge" or "split"
    source_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    # {"identities": [ids], "crm_contacts": [ids], "notes": [ids], "conversations": [ids], ...}
    moved: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
