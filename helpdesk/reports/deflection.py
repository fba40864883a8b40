"""Deflection: what shoppers settled in the widget without an agent, next to what needed one.

Definitions, for things that happened in the period (by the day they started):
- handled without an agent = order lookups answered + tracking lookups answered (each counted
  once a day per order and shopper) + cancel and return requests completed with no public agent
  message in their conversation between the request and its completion (the agent's one click
  and the automatic outcome message do not count as an agent writing);
- needed an agent = conversations created in the period with at least one public agent message;
- rate = handled without an agent / (handled without an agent + needed an agent).
Across every inbox and channel: lookups and tracking belong to no conversation, so the
dashboard's inbox/agent filters do not apply here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from helpdesk.reports.ranges import Period
from helpdesk.reports.sql import epoch
from helpdesk.selfservice.models import Kind, SelfServiceRequest, Status
from helpdesk.tickets.models import AuthorType, Conversation, Message

KEYS = ("order_lookups", "tracking_lookups", "requests_completed")


def deflection(session: Session, period: Period) -> dict[str, Any]:
    per_day: dict[Any, dict[str, int]] = {d: {k: 0 for k in (*KEYS, "needed_agent")} for d in period.days}
    agent_wrote = exists().where(
        Message.conversation_id == SelfServiceRequest.conversation_id, Message.author_type == AuthorType.agent,
        Message.private.is_(False), Message.created_at >= SelfServiceRequest.created_at,
        Message.created_at <= SelfServiceRequest.handled_at)
    rows = session.execute(
        select(SelfServiceRequest.kind, epoch(SelfServiceRequest.created_at))
        .where(SelfServiceRequest.created_at >= period.start, SelfServiceRequest.created_at < period.end,
               (SelfServiceRequest.kind.in_((Kind.lookup, Kind.track)))
               | and_(SelfServiceRequest.kind.in_((Kind.cancel, Kind.return_)),
                      SelfServiceRequest.status == Status.done, ~agent_wrote)))
    key_of = {Kind.lookup: "order_lookups", Kind.track: "tracking_lookups"}
    for kind, at in rows:
        day = period.day_of(at)
        if day is not None:
            per_day[day][key_of.get(kind, "requests_completed")] += 1
    from helpdesk.reports.rollups import needed_agent_by_day

    rolled = needed_agent_by_day(session, period)  # None: no rollups for the period, read the rows
    if rolled is not None:
        for day, n in rolled.items():
            per_day[day]["needed_agent"] += n
    else:
        needed = session.execute(
            select(epoch(Conversation.created_at))
            .where(Conversation.created_at >= period.start, Conversation.created_at < period.end,
                   exists().where(Message.conversation_id == Conversation.id, Message.author_type == AuthorType.agent,
                                  Message.private.is_(False))))
        for (at,) in needed:
            day = period.day_of(at)
            if day is not None:
                per_day[day]["needed_agent"] += 1
    totals = {k: sum(d[k] for d in per_day.values()) for k in (*KEYS, "needed_agent")}
    without = sum(totals[k] for k in KEYS)
    return {
        "handled_without_agent": without,
        **totals,
        "deflection_rate": without / (without + totals["needed_agent"]) if without + totals["needed_agent"] else None,
        "days": [{"day": d.isoformat(), "handled_without_agent": sum(v[k] for k in KEYS),
                  "needed_agent": v["needed_agent"]} for d, v in per_day.items()],
    }
