"""The service figures of a period: volumes, backlog, response and resolution times, CSAT.

Counts come from SQL; durations are fetched as epoch seconds and their median and 90th
percentile computed here, which reads the same on SQLite and PostgreSQL (SQLite has no
percentile function) and keeps one pass of Python over at most the rows of the period.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, String, func, select, type_coerce
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.reports.hours import BusinessClock
from helpdesk.reports.ranges import Filters, Period
from helpdesk.reports.sql import epoch
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import AuthorType, Channel, Conversation, Inbox, Message, Status, Team

GOOD_SCORES = (4, 5)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont, numpy's default)."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass
class Figures:
    created: int = 0
    resolved: int = 0
    backlog: int = 0
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    replies: int = 0
    surveys_sent: int = 0
    scores: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))

    def as_dict(self) -> dict[str, Any]:
        frt = sorted(self.first_response)
        res = sorted(self.resolution)
        answers = sum(self.scores.values())
        good = sum(self.scores[s] for s in GOOD_SCORES)
        total_score = sum(s * n for s, n in self.scores.items())
        return {
            "conversations_created": self.created,
            "conversations_resolved": self.resolved,
            "backlog": self.backlog,
            "first_response_median_seconds": _round(percentile(frt, 0.5)),
            "first_response_p90_seconds": _round(percentile(frt, 0.9)),
            "first_responses": len(frt),
            "resolution_median_seconds": _round(percentile(res, 0.5)),
            "resolution_p90_seconds": _round(percentile(res, 0.9)),
            "replies_per_conversation": round(self.replies / self.resolved, 2) if self.resolved else None,
            "surveys_sent": self.surveys_sent,
            "survey_responses": answers,
            "response_rate": round(answers / self.surveys_sent, 4) if self.surveys_sent else None,
            "csat": round(good / answers, 4) if answers else None,
            "average_score": round(total_score / answers, 2) if answers else None,
            "score_distribution": {str(s): n for s, n in self.scores.items()},
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# -- the grouping keys ----------------------------------------------------------------------------

def _conversation_filters(f: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.agent_id is not None:
        where.append(Conversation.assignee_id == f.agent_id)
    if f.team_id is not None:
        where.append(Conversation.team_id == f.team_id)
    if f.inbox_id is not None:
        where.append(Conversation.inbox_id == f.inbox_id)
    if f.channel:
        where.append(Conversation.channel == Channel(f.channel))
    return where


def _survey_filters(f: Filters) -> list[ColumnElement[bool]]:
    # A survey is judged by who served the customer when it was sent, not by today's assignee.
    where: list[ColumnElement[bool]] = []
    if f.agent_id is not None:
        where.append(CsatSurvey.agent_id == f.agent_id)
    if f.team_id is not None:
        where.append(CsatSurvey.team_id == f.team_id)
    if f.inbox_id is not None:
        where.append(CsatSurvey.inbox_id == f.inbox_id)
    if f.channel:
        where.append(CsatSurvey.channel == Channel(f.channel))
    return where


def _key_column(model: Any, group_by: str | None) -> Any:
    if group_by is None or group_by == "day":
        return None
    if model is Conversation:
        return {"agent": Conversation.assignee_id, "team": Conversation.team_id,
                "inbox": Conversation.inbox_id, "channel": Conversation.channel}[group_by]
    return {"agent": CsatSurvey.agent_id, "team": CsatSurvey.team_id, "inbox": CsatSurvey.inbox_id,
            "channel": CsatSurvey.channel}[group_by]


def _channel_value(value: Any) -> Any:
    return value.value if isinstance(value, Channel) else value


# Every row read starts with the four keys, then the epoch of the event that dates it.
KEY_INDEX = {"agent": 0, "team": 1, "inbox": 2, "channel": 3}
WHEN = 4


def _keyer(group_by: str, period: Period) -> Callable[[Any], Any]:
    if group_by == "day":
        return lambda row: period.day_of(row[WHEN]) if row[WHEN] is not None else None
    if group_by == "channel":
        return lambda row: _channel_value(row[3])
    index = KEY_INDEX[group_by]
    return lambda row: row[index]


# -- the queries ----------------------------------------------------------------------------------

def summary(session: Session, period: Period, filters: Filters = Filters(),
            group_by: str | None = None, clock: BusinessClock | None = None) -> dict[str, Any]:
    """Every figure for the period, in total and per group; with a clock, the first response and
    resolution times count business hours only."""
    return summaries(session, period, filters, (group_by,), clock)[group_by]


def summaries(session: Session, period: Period, filters: Filters = Filters(),
              group_bys: Sequence[str | None] = (None,),
              clock: BusinessClock | None = None, *, durations_by_day: bool = True,
              live: bool = False) -> dict[str | None, dict[str, Any]]:
    """The figures under several groupings at once, from one read of the rows (the dashboard
    shows days and agents side by side). From the daily rollups where they serve the period
    (rollups.py: counts exact, times within rollups.PRECISION), unless `live`;
    `durations_by_day=False` leaves the per-day times out there (the dashboard draws none)."""
    if clock is None and not live:
        from helpdesk.reports import rollups

        rolled = rollups.summaries(session, period, filters, group_bys, durations_by_day)
        if rolled is not None:
            return rolled

    if clock is not None:
        duration = clock.between
    else:
        def duration(start: float, end: float) -> float:
            return end - start if end > start else 0.0

    totals = Figures()
    groupings = [(g, _keyer(g, period), defaultdict(Figures)) for g in dict.fromkeys(group_bys) if g]
    start, end = period.start, period.end

    def add(rows: Iterable[Any], apply: Callable[[Figures, Any], None]) -> None:
        for row in rows:
            apply(totals, row)
            for _name, key_of, groups in groupings:
                apply(groups[key_of(row)], row)

    # Plain Core rows, and the channel as text: per-row ORM and enum processing would cost more
    # than the figures themselves on a million rows.
    connection = session.connection()
    keys = (Conversation.assignee_id, Conversation.team_id, Conversation.inbox_id,
            type_coerce(Conversation.channel, String))
    cwhere = _conversation_filters(filters)

    # Created in the period, and their first response time.
    created_rows = connection.execute(
        select(*keys, epoch(Conversation.created_at), epoch(Conversation.first_response_at))
        .where(Conversation.created_at >= start, Conversation.created_at < end, *cwhere)
        .execution_options(yield_per=20_000))

    def on_created(fig: Figures, row: Any) -> None:
        fig.created += 1
        if row[5] is not None:
            fig.first_response.append(duration(row[4], row[5]))
    add(created_rows, on_created)

    # Resolved in the period: resolution time and the agents' public replies.
    replies = (select(func.count(Message.id))
               .where(Message.conversation_id == Conversation.id, Message.author_type == AuthorType.agent,
                      Message.private.is_(False))
               .correlate(Conversation).scalar_subquery())
    resolved_rows = connection.execute(
        select(*keys, epoch(Conversation.resolved_at), epoch(Conversation.created_at), replies)
        .where(Conversation.status == Status.resolved, Conversation.resolved_at >= start,
               Conversation.resolved_at < end, *cwhere)
        .execution_options(yield_per=20_000))

    def on_resolved(fig: Figures, row: Any) -> None:
        fig.resolved += 1
        fig.resolution.append(duration(row[5], row[4]))
        fig.replies += row[6] or 0
    add(resolved_rows, on_resolved)

    # Surveys sent in the period, judged by the agent, team and inbox they were sent for.
    survey_rows = connection.execute(
        select(CsatSurvey.agent_id, CsatSurvey.team_id, CsatSurvey.inbox_id,
               type_coerce(CsatSurvey.channel, String),
               epoch(CsatSurvey.sent_at), CsatSurvey.score)
        .where(CsatSurvey.sent_at >= start, CsatSurvey.sent_at < end, *_survey_filters(filters))
        .execution_options(yield_per=20_000))

    def on_survey(fig: Figures, row: Any) -> None:
        fig.surveys_sent += 1
        if row[5] is not None:
            fig.scores[row[5]] += 1
    add(survey_rows, on_survey)

    backlog_total = _backlog(session, period, cwhere, None, None, Figures(), {})
    totals.backlog = backlog_total
    results: dict[str | None, dict[str, Any]] = {}
    for group_by in dict.fromkeys(group_bys):
        result: dict[str, Any] = {"from": start.isoformat(), "to": end.isoformat(),
                                  "timezone": str(period.tz), "group_by": group_by,
                                  "hours": "business" if clock else "calendar", "totals": totals.as_dict()}
        if group_by is not None:
            groups = next(g for name, _k, g in groupings if name == group_by)
            key_column = _key_column(Conversation, group_by)
            _backlog(session, period, cwhere, key_column, group_by, Figures(), groups)
            result["groups"] = _grouped(session, period, group_by, groups)
        results[group_by] = result
    return results


def _grouped(session: Session, period: Period, group_by: str,
             groups: dict[Any, Figures]) -> list[dict[str, Any]]:
    if group_by == "day":
        for day in period.days:  # every day of the period, even a quiet one
            groups.setdefault(day, Figures())
    labels = _labels(session, group_by, [k for k in groups if k is not None])
    if group_by == "day":
        ordered = sorted((kv for kv in groups.items() if kv[0] is not None), key=lambda kv: kv[0])
    else:
        ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, _label(group_by, kv[0], labels)))
    return [{"key": _public_key(group_by, key, labels), "label": _label(group_by, key, labels),
             **fig.as_dict()} for key, fig in ordered]


def _backlog(session: Session, period: Period, cwhere: list[ColumnElement[bool]], conv_key: Any,
             group_by: str | None, totals: Figures, groups: dict[Any, Figures]) -> int:
    """Conversations open at the end of the period (or of each day): created before that moment and
    not resolved before it. A reopened conversation counts as open until it is resolved again."""
    def counts(column: Any, moment: Any, extra: list[ColumnElement[bool]]) -> dict[Any, int]:
        if conv_key is None:
            return {None: session.scalar(select(func.count()).where(column < moment, *extra, *cwhere)) or 0}
        query: Select[Any] = (select(conv_key, func.count()).where(column < moment, *extra, *cwhere)
                              .group_by(conv_key))
        return {k: n for k, n in session.execute(query)}

    resolved_before = [Conversation.status == Status.resolved]
    if group_by == "day":
        # Running sums from the state at the start of the period, day by day.
        open_now = (sum(counts(Conversation.created_at, period.start, []).values())
                    - sum(counts(Conversation.resolved_at, period.start, resolved_before).values()))
        for day in period.days:
            fig = groups[day]
            open_now += fig.created - fig.resolved
            fig.backlog = open_now
        totals.backlog = open_now
        return open_now
    created = counts(Conversation.created_at, period.end, [])
    resolved = counts(Conversation.resolved_at, period.end, resolved_before)
    for key in set(created) | set(resolved):
        n = created.get(key, 0) - resolved.get(key, 0)
        totals.backlog += n
        if group_by is not None and n:
            groups[_channel_value(key)].backlog += n
    return totals.backlog


# -- labels ---------------------------------------------------------------------------------------

def _labels(session: Session, group_by: str, keys: list[Any]) -> dict[Any, Any]:
    model = {"agent": Agent, "team": Team, "inbox": Inbox}.get(group_by)
    if model is None or not keys:
        return {}
    rows = session.execute(select(model.id, model.name, model.public_id).where(model.id.in_(keys)))
    return {row[0]: (row[1], row[2]) for row in rows}


def _label(group_by: str, key: Any, labels: dict[Any, Any]) -> str:
    if key is None:
        return {"agent": "Unassigned", "team": "No team"}.get(group_by, "—")
    if group_by in ("agent", "team", "inbox"):
        return labels.get(key, ("(deleted)", None))[0]
    return str(key)


def _public_key(group_by: str, key: Any, labels: dict[Any, Any]) -> Any:
    if key is None:
        return None
    if group_by in ("agent", "team", "inbox"):
        return labels.get(key, (None, None))[1]
    return key.isoformat() if group_by == "day" else str(key)


def low_scores(session: Session, period: Period, filters: Filters = Filters(), limit: int = 20,
               max_score: int = 2) -> list[CsatSurvey]:
    """The latest poor answers of the period, with their comments, for the managers' feed."""
    # One walk down ix_csat_surveys_score_answered per score, newest answer first, instead of
    # sorting every survey sent in the period (310,000 in a busy year).
    found: list[CsatSurvey] = []
    for score in range(1, max_score + 1):
        found += session.scalars(
            select(CsatSurvey).where(CsatSurvey.score == score, CsatSurvey.answered_at >= period.start,
                                     CsatSurvey.sent_at >= period.start, CsatSurvey.sent_at < period.end,
                                     *_survey_filters(filters))
            .order_by(CsatSurvey.answered_at.desc()).limit(limit))
    found.sort(key=lambda s: s.answered_at, reverse=True)
    return found[:limit]


__all__ = ["Figures", "low_scores", "percentile", "summary"]
