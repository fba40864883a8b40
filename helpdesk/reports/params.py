"""One reading of a report's query string, shared by the dashboard, the exports and the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.errors import Invalid
from helpdesk.reports.hours import BusinessClock, parse_hours
from helpdesk.reports.ranges import CHANNELS, Filters, Period, parse_group, parse_period, timezone
from helpdesk.tickets.models import Inbox, Team

DEFAULT_HOURS = "Mon-Fri 09:00-17:00"


@dataclass(frozen=True)
class ReportQuery:
    period: Period
    filters: Filters
    group_by: str | None
    clock: BusinessClock | None = None


def _id_of(session: Session, model: type, value: str | None, name: str) -> int | None:
    if not value:
        return None
    found = session.scalar(select(model.id).where(model.public_id == value))  # type: ignore[attr-defined]
    if found is None:
        raise Invalid(name, f"no such {name}")
    return found


def read_query(session: Session, args: Mapping[str, str], tz_name: str | None,
               business_hours: str | None = None) -> ReportQuery:
    """Raises Invalid (422) for a bad date, from after to, an unknown agent/team/inbox or group.
    `hours=business` counts durations within `business_hours` (a schedule in the report zone)."""
    tz = timezone(args.get("tz") or tz_name)
    period = parse_period(args, tz)
    hours = (args.get("hours") or "calendar").strip()
    if hours not in ("calendar", "business"):
        raise Invalid("hours", "calendar or business")
    clock = parse_hours(business_hours or DEFAULT_HOURS, tz).clock() if hours == "business" else None
    channel = (args.get("channel") or "").strip() or None
    if channel is not None and channel not in CHANNELS:
        raise Invalid("channel", f"one of {', '.join(CHANNELS)}")
    filters = Filters(agent_id=_id_of(session, Agent, args.get("agent"), "agent"),
                      team_id=_id_of(session, Team, args.get("team"), "team"),
                      inbox_id=_id_of(session, Inbox, args.get("inbox"), "inbox"), channel=channel)
    return ReportQuery(period, filters, parse_group(args.get("group_by")), clock)
