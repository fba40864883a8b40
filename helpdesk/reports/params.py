"""One reading of a report's query string, shared by the dashboard, the exports and the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.errors import Invalid
from helpdesk.reports.ranges import CHANNELS, Filters, Period, parse_group, parse_period, timezone
from helpdesk.tickets.models import Inbox, Team


@dataclass(frozen=True)
class ReportQuery:
    period: Period
    filters: Filters
    group_by: str | None


def _id_of(session: Session, model: type, value: str | None, name: str) -> int | None:
    if not value:
        return None
    found = session.scalar(select(model.id).where(model.public_id == value))  # type: ignore[attr-defined]
    if found is None:
        raise Invalid(name, f"no such {name}")
    return found


def read_query(session: Session, args: Mapping[str, str], tz_name: str | None) -> ReportQuery:
    """Raises Invalid (422) for a bad date, from after to, an unknown agent/team/inbox or group."""
    period = parse_period(args, timezone(args.get("tz") or tz_name))
    channel = (args.get("channel") or "").strip() or None
    if channel is not None and channel not in CHANNELS:
        raise Invalid("channel", f"one of {', '.join(CHANNELS)}")
    filters = Filters(agent_id=_id_of(session, Agent, args.get("agent"), "agent"),
                      team_id=_id_of(session, Team, args.get("team"), "team"),
                      inbox_id=_id_of(session, Inbox, args.get("inbox"), "inbox"), channel=channel)
    return ReportQuery(period, filters, parse_group(args.get("group_by")))
