"""Automation rules, the log of their runs, and macros (saved bundles of the same actions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import Base, UTCDateTime, public_id, utcnow


class AutomationRule(Base):
    __tablename__ = "automation_rules"
    __table_args__ = (Index("ix_automation_rules_event_active_position", "event", "active", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("ar"))
    name: Mapped[str] = mapped_column(String(120))
    event: Mapped[str] = mapped_column(String(32))
    # [{field, op, value}] all of which must hold; [{type, value}] applied in order.
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)  # rules of one event run ascending
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RuleRun(Base):
    """One firing of a rule on a conversation: what it did; the idle check fires once per quiet spell."""

    __tablename__ = "rule_runs"
    __table_args__ = (Index("ix_rule_runs_rule_conversation", "rule_id", "conversation_id", "fired_at"),
                      UniqueConstraint("rule_id", "trigger"))

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    # The job that fired it: a job run twice (at-least-once delivery) does not act twice.
    trigger: Mapped[str | None] = mapped_column(String(64))
    done: Mapped[list[str]] = mapped_column(JSON, default=list)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Macro(Base):
    __tablename__ = "macros"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("mc"))
    name: Mapped[str] = mapped_column(String(120))
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # None: shared with everyone (managers keep those); else the one agent who sees it.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
