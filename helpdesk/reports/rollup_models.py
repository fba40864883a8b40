"""The daily rollups of the reports: figures per local day and key, and the marks of stale days.

A row of `report_rollups` holds what happened on one local day (in the zone named by the day's
`report_days` row) for one combination of agent, team, inbox and channel: conversations created
(with their first response times) and resolved (with their resolution times and agent replies)
are keyed by the conversation, surveys by the agent, team, inbox and channel they were sent for,
as the live queries key them. Durations are histograms with log-spaced buckets (rollups.py).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import Base, UTCDateTime, utcnow
from helpdesk.orders.models import Order


class ReportDay(Base):
    """A local day whose rollup rows are built; without a row (or in another zone) it is live."""

    __tablename__ = "report_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    tz: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportRollup(Base):
    __tablename__ = "report_rollups"
    __table_args__ = (Index("ix_report_rollups_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    # No foreign keys: a deleted agent's history stays, labelled "(deleted)" as the live query does.
    agent_id: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    inbox_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(16))
    created: Mapped[int] = mapped_column(Integer, default=0)
    needed_agent: Mapped[int] = mapped_column(Integer, default=0)  # created with a public agent message
    first_responses: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    surveys_sent: Mapped[int] = mapped_column(Integer, default=0)
    score_1: Mapped[int] = mapped_column(Integer, default=0)
    score_2: Mapped[int] = mapped_column(Integer, default=0)
    score_3: Mapped[int] = mapped_column(Integer, default=0)
    score_4: Mapped[int] = mapped_column(Integer, default=0)
    score_5: Mapped[int] = mapped_column(Integer, default=0)
    # JSON objects {bucket: count} of the first response and resolution times (rollups.bucket).
    first_response_hist: Mapped[str] = mapped_column(Text, default="{}")
    resolution_hist: Mapped[str] = mapped_column(Text, default="{}")


class ReportDirty(Base):
    """A moment whose local day's rollup is stale: written in the transaction of the change (a
    resolve, reopen, reassignment, first reply, survey answer...), removed when the worker has
    rebuilt that day. A day with a mark is computed live from rows until then."""

    __tablename__ = "report_dirty"
    __table_args__ = (Index("ix_report_dirty_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


# The commerce panel reads the orders of the period by placed_at; without this a year's report
# scanned the whole orders table (the per-customer index leads with customer_id).
Index("ix_orders_placed_at", Order.__table__.c.placed_at)
