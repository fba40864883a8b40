"""Daily rollups: the reports of a long period read one row per day and key instead of every
conversation, message and survey.

- Built per local day of REPORTS_TIMEZONE, only for days that are over; today, any day with a
  dirty mark (rollup_models.ReportDirty, written in the transaction of the change) and any day not
  built are read live from rows and merged in. A report is never stale: at worst it is slower.
- Counts are exact. Durations are kept as histograms with buckets a factor BASE apart, so a median
  or 90th percentile read from a rollup is within PRECISION (2.5 %) of the exact figure; a period
  with no built day is computed exactly, as before.
- Used when the report is in the rollups' zone, its bounds are local midnights and it counts
  calendar hours (business hours depend on the schedule, so they are always live).
- Kept by the periodic job REFRESH_JOB in the worker: it rebuilds the days with marks and the days
  that have ended since, at most MAX_DAYS_PER_RUN a run. `helpdesk reports rebuild-rollups`
  builds the whole history once.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, delete, exists, func, select, type_coerce
from sqlalchemy.orm import Session

from helpdesk.db import utcnow
from helpdesk.reports.figures import Figures, _round, _survey_filters
from helpdesk.reports.ranges import Filters, Period
from helpdesk.reports.rollup_models import ReportDay, ReportDirty, ReportRollup
from helpdesk.reports.sql import epoch
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import AuthorType, Conversation, Message, Status

BASE = 1.05
PRECISION = math.sqrt(BASE) - 1  # the largest relative error of a bucket's middle
REFRESH_JOB = "reports.refresh_rollups"
REFRESH_EVERY_SECONDS = 60.0
GRACE = timedelta(minutes=15)
MAX_DAYS_PER_RUN = 31  # a run stays short; a new history is built by the CLI or over several runs
_LOG_BASE = math.log(BASE)
SCORES = range(1, 6)
Key = tuple[int | None, int | None, int | None, str | None]  # agent, team, inbox, channel
_KEY_INDEX = {"agent": 0, "team": 1, "inbox": 2, "channel": 3}


def bucket(seconds: float) -> int:
    """0 under one second, else 1 + floor(log_BASE(seconds))."""
    return 0 if seconds < 1 else 1 + int(math.log(seconds) / _LOG_BASE)


def middle(b: int) -> float:
    """The geometric middle of a bucket: within PRECISION of every value in it."""
    return 0.0 if b <= 0 else BASE ** (b - 0.5)


def hist_percentile(hist: Counter[str], n: int, q: float) -> float | None:
    """As figures.percentile (interpolation between closest ranks), on bucket middles."""
    if n <= 0:
        return None
    pos = (n - 1) * q
    lo_rank, hi_rank = math.floor(pos), math.ceil(pos)
    lo = hi = None
    seen = 0
    for b in sorted(hist, key=int):  # keys are the buckets as text, as JSON stores them
        seen += hist[b]
        if lo is None and seen > lo_rank:
            lo = middle(int(b))
        if seen > hi_rank:
            hi = middle(int(b))
            break
    assert lo is not None and hi is not None
    return lo + (hi - lo) * (pos - lo_rank)


def _add(into: dict[str, int], more: dict[str, int]) -> None:
    """Counter.update without its per-call checks: this runs once per rollup row."""
    get = into.get
    for k, v in more.items():
        into[k] = get(k, 0) + v


@dataclass
class Rolled(Figures):
    """Figures whose durations are histograms (rollup rows and live rows merged)."""

    frt: Counter[str] = field(default_factory=Counter)
    res: Counter[str] = field(default_factory=Counter)
    n_frt: int = 0
    needed_agent: int = 0

    def add_row(self, row: Any, durations: bool) -> None:
        self.created += row.created
        self.needed_agent += row.needed_agent
        self.n_frt += row.first_responses
        self.resolved += row.resolved
        self.replies += row.replies
        self.surveys_sent += row.surveys_sent
        for s in SCORES:
            self.scores[s] += getattr(row, f"score_{s}")
        if durations:
            _add(self.frt, row.frt)
            _add(self.res, row.res)

    def merge(self, other: Rolled) -> None:
        self.created += other.created
        self.needed_agent += other.needed_agent
        self.n_frt += other.n_frt
        self.resolved += other.resolved
        self.replies += other.replies
        self.surveys_sent += other.surveys_sent
        for s in SCORES:
            self.scores[s] += other.scores[s]
        self.frt.update(other.frt)
        self.res.update(other.res)

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        # Without histograms (per day on the dashboard) the times are left out: None.
        n_frt, n_res = sum(self.frt.values()), sum(self.res.values())
        out.update({
            "first_response_median_seconds": _round(hist_percentile(self.frt, n_frt, 0.5)),
            "first_response_p90_seconds": _round(hist_percentile(self.frt, n_frt, 0.9)),
            "first_responses": self.n_frt,
            "resolution_median_seconds": _round(hist_percentile(self.res, n_res, 0.5)),
            "resolution_p90_seconds": _round(hist_percentile(self.res, n_res, 0.9)),
        })
        return out


@dataclass
class _Cell:
    """One (day, key) of rollup under construction, or one rollup row read back."""

    created: int = 0
    needed_agent: int = 0
    first_responses: int = 0
    resolved: int = 0
    replies: int = 0
    surveys_sent: int = 0
    score_1: int = 0
    score_2: int = 0
    score_3: int = 0
    score_4: int = 0
    score_5: int = 0
    frt: dict[str, int] = field(default_factory=Counter)
    res: dict[str, int] = field(default_factory=Counter)


# -- reading rows (building a day, and the live part of a report) ---------------------------------

def _conversation_where(filters: Filters) -> list[Any]:
    from helpdesk.reports.figures import _conversation_filters

    return _conversation_filters(filters)


def _live_cells(session: Session, start: datetime, end: datetime, day_of: Callable[[float], Any],
                filters: Filters = Filters()) -> dict[tuple[Any, Key], _Cell]:
    """What happened in [start, end) from the rows, per (day, key): the same three reads as
    figures.summaries, plus whether a created conversation had a public agent message."""
    cells: dict[tuple[Any, Key], _Cell] = defaultdict(_Cell)
    connection = session.connection()
    keys = (Conversation.assignee_id, Conversation.team_id, Conversation.inbox_id,
            type_coerce(Conversation.channel, String))
    cwhere = _conversation_where(filters)
    agent_wrote = (exists().where(Message.conversation_id == Conversation.id, Message.author_type == AuthorType.agent,
                                  Message.private.is_(False)).correlate(Conversation))
    for row in connection.execute(
            select(*keys, epoch(Conversation.created_at), epoch(Conversation.first_response_at), agent_wrote)
            .where(Conversation.created_at >= start, Conversation.created_at < end, *cwhere)
            .execution_options(yield_per=20_000)):
        cell = cells[(day_of(row[4]), (row[0], row[1], row[2], row[3]))]
        cell.created += 1
        cell.needed_agent += bool(row[6])
        if row[5] is not None:
            cell.first_responses += 1
            cell.frt[str(bucket(row[5] - row[4] if row[5] > row[4] else 0.0))] += 1
    replies = (select(func.count(Message.id))
               .where(Message.conversation_id == Conversation.id, Message.author_type == AuthorType.agent,
                      Message.private.is_(False))
               .correlate(Conversation).scalar_subquery())
    for row in connection.execute(
            select(*keys, epoch(Conversation.resolved_at), epoch(Conversation.created_at), replies)
            .where(Conversation.status == Status.resolved, Conversation.resolved_at >= start,
                   Conversation.resolved_at < end, *cwhere)
            .execution_options(yield_per=20_000)):
        cell = cells[(day_of(row[4]), (row[0], row[1], row[2], row[3]))]
        cell.resolved += 1
        cell.res[str(bucket(row[4] - row[5] if row[4] > row[5] else 0.0))] += 1
        cell.replies += row[6] or 0
    for row in connection.execute(
            select(CsatSurvey.agent_id, CsatSurvey.team_id, CsatSurvey.inbox_id,
                   type_coerce(CsatSurvey.channel, String), epoch(CsatSurvey.sent_at), CsatSurvey.score)
            .where(CsatSurvey.sent_at >= start, CsatSurvey.sent_at < end, *_survey_filters(filters))
            .execution_options(yield_per=20_000)):
        cell = cells[(day_of(row[4]), (row[0], row[1], row[2], row[3]))]
        cell.surveys_sent += 1
        if row[5] is not None:
            setattr(cell, f"score_{row[5]}", getattr(cell, f"score_{row[5]}") + 1)
    return cells


# -- building ------------------------------------------------------------------------------------

def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


def _local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def _day_finder(days: Sequence[date], tz: ZoneInfo) -> Callable[[float], date | None]:
    from helpdesk.reports.ranges import make_period

    period = make_period(_midnight(days[0], tz), _midnight(days[-1] + timedelta(days=1), tz), tz)
    return period.day_of


def _runs(days: Iterable[date]) -> list[list[date]]:
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][-1] + timedelta(days=1) and len(runs[-1]) < 31:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _read_run(session: Session, tz: ZoneInfo, run: list[date]) -> tuple[list[int], list[dict[str, Any]]]:
    """The marks this build settles and the rollup rows of a run of days (reads only)."""
    start, end = _midnight(run[0], tz), _midnight(run[-1] + timedelta(days=1), tz)
    # The marks seen before the rows are read are settled by this build; one written later
    # (by id) stays, and its day is built again.
    marks = list(session.scalars(select(ReportDirty.id).where(ReportDirty.at >= start, ReportDirty.at < end)))
    cells = _live_cells(session, start, end, _day_finder(run, tz))
    rows = []
    for (day, key), cell in cells.items():
        if day is None:
            continue
        rows.append({"day": day, "agent_id": key[0], "team_id": key[1], "inbox_id": key[2], "channel": key[3],
                     "created": cell.created, "needed_agent": cell.needed_agent,
                     "first_responses": cell.first_responses, "resolved": cell.resolved,
                     "replies": cell.replies, "surveys_sent": cell.surveys_sent,
                     **{f"score_{s}": getattr(cell, f"score_{s}") for s in SCORES},
                     "first_response_hist": json.dumps(dict(cell.frt)),
                     "resolution_hist": json.dumps(dict(cell.res))})
    return marks, rows


def _write_run(session: Session, tz_name: str, run: list[date], marks: list[int], rows: list[dict[str, Any]]) -> None:
    session.execute(delete(ReportRollup).where(ReportRollup.day >= run[0], ReportRollup.day <= run[-1]))
    session.execute(delete(ReportDay).where(ReportDay.day >= run[0], ReportDay.day <= run[-1]))
    if rows:
        session.execute(ReportRollup.__table__.insert(), rows)
    session.execute(ReportDay.__table__.insert(), [{"day": d, "tz": tz_name, "built_at": utcnow()} for d in run])
    _spend(session, marks)


def build_days(session: Session, tz_name: str, days: Iterable[date]) -> int:
    """(Re)build the rollups of these local days, in runs of consecutive days; returns how many."""
    tz = ZoneInfo(tz_name)
    runs = _runs(days)
    for run in runs:
        _write_run(session, tz_name, run, *_read_run(session, tz, run))
    session.flush()
    return sum(len(run) for run in runs)


def build(session: Session, tz_name: str, until: date | None = None) -> int:
    """Build every day from the first conversation's to yesterday (local) that is not built in this
    zone yet; returns how many days were built. The CLI runs this once for the history."""
    tz = ZoneInfo(tz_name)
    first = session.scalar(select(func.min(Conversation.created_at)))
    if first is None:
        return 0
    last = until or (_local_day(utcnow(), tz) - timedelta(days=1))
    built = set(session.scalars(select(ReportDay.day).where(ReportDay.tz == tz_name)))
    todo = [d for d in _days(_local_day(first, tz), last) if d not in built]
    return build_days(session, tz_name, todo)


def clear(session: Session) -> None:
    """Forget every rollup (the reports are then live until they are built again)."""
    session.execute(delete(ReportRollup))
    session.execute(delete(ReportDay))
    session.execute(delete(ReportDirty))


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def plan_refresh(session: Session, tz_name: str, max_days: int = MAX_DAYS_PER_RUN) -> list[date]:
    """The worker's round: the built days that have marks, then the days that have ended since
    the last built one; at most `max_days`. Spends the marks no build needs."""
    tz = ZoneInfo(tz_name)
    marks = session.execute(select(ReportDirty.id, ReportDirty.at).order_by(ReportDirty.id).limit(10_000)).all()
    stale = {d for d, tz_of in session.execute(select(ReportDay.day, ReportDay.tz)) if tz_of != tz_name}
    built = set(session.scalars(select(ReportDay.day).where(ReportDay.tz == tz_name)))
    # A day is built GRACE after it ends: a transaction begun before midnight has committed by then.
    yesterday = _local_day(utcnow() - GRACE, tz) - timedelta(days=1)
    marked = {_local_day(at, tz) for _id, at in marks}
    todo = sorted((marked & built) | stale)
    if built:
        todo += [d for d in _days(max(built) + timedelta(days=1), yesterday) if d not in todo]
    todo = todo[:max_days]
    # A mark on a day that is not built has nothing to refresh: that day is live, or built later from rows.
    _spend(session, [mid for mid, at in marks if _local_day(at, tz) not in built and _local_day(at, tz) not in todo])
    return todo


def refresh(session: Session, tz_name: str, max_days: int = MAX_DAYS_PER_RUN) -> int:
    """plan_refresh and the builds in one session (tests, the CLI); returns the days rebuilt."""
    return build_days(session, tz_name, plan_refresh(session, tz_name, max_days))


def _spend(session: Session, ids: list[int]) -> None:
    for i in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        session.execute(delete(ReportDirty).where(ReportDirty.id.in_(ids[i:i + 900])))


# -- reading a report -----------------------------------------------------------------------------

@dataclass
class Coverage:
    """Which days of the rollups' zone are clean (built, ended and without a mark)."""

    tz: ZoneInfo
    clean: set[date]
    first: date  # the first built day: everything before it is read live

    def live_runs(self, first: date, last: date) -> list[tuple[date, date]]:
        """The runs of consecutive days in [first, last] that are not clean."""
        runs: list[tuple[date, date]] = []
        for day in _days(first, last):
            if day in self.clean:
                continue
            if runs and runs[-1][1] == day - timedelta(days=1):
                runs[-1] = (runs[-1][0], day)
            else:
                runs.append((day, day))
        return runs


def coverage(session: Session, period: Period) -> Coverage | None:
    """None when the rollups cannot serve this period (another zone, bounds not at local midnight,
    or no clean day in it)."""
    tz_name = str(period.tz)
    if not period.days or period.boundaries[0] != period.start.timestamp() \
            or period.boundaries[-1] != period.end.timestamp():
        return None
    built = list(session.execute(select(ReportDay.day).where(ReportDay.tz == tz_name)).scalars())
    if not built:
        return None
    today = _local_day(utcnow(), period.tz)
    dirty = {_local_day(at, period.tz) for at in session.scalars(select(ReportDirty.at))}
    clean = {d for d in built if d < today and d not in dirty}
    if not any(d in clean for d in period.days):
        return None
    return Coverage(period.tz, clean, min(built))


def _rollup_rows(session: Session, first: date, last: date, filters: Filters, clean: set[date],
                 durations: bool) -> Iterator[tuple[date, Key, _Cell]]:
    columns = [ReportRollup.day, ReportRollup.agent_id, ReportRollup.team_id, ReportRollup.inbox_id,
               ReportRollup.channel, ReportRollup.created, ReportRollup.needed_agent, ReportRollup.first_responses,
               ReportRollup.resolved, ReportRollup.replies, ReportRollup.surveys_sent,
               *[getattr(ReportRollup, f"score_{s}") for s in SCORES]]
    if durations:
        columns += [ReportRollup.first_response_hist, ReportRollup.resolution_hist]
    where = [ReportRollup.day >= first, ReportRollup.day <= last]
    if filters.agent_id is not None:
        where.append(ReportRollup.agent_id == filters.agent_id)
    if filters.team_id is not None:
        where.append(ReportRollup.team_id == filters.team_id)
    if filters.inbox_id is not None:
        where.append(ReportRollup.inbox_id == filters.inbox_id)
    if filters.channel:
        where.append(ReportRollup.channel == filters.channel)
    loads = json.loads
    for r in session.connection().execute(select(*columns).where(*where)):
        if r[0] not in clean:
            continue
        cell = _Cell(*r[5:16])
        if durations:
            cell.frt = loads(r[16])
            cell.res = loads(r[17])
        yield r[0], (r[1], r[2], r[3], r[4]), cell


def _cells(session: Session, cov: Coverage, first: date, last: date, filters: Filters,
           durations: bool) -> Iterator[tuple[date | None, Key, _Cell]]:
    """Every (day, key, figures) of the local days [first, last]: clean days from the rollups,
    the others from rows."""
    yield from _rollup_rows(session, first, last, filters, cov.clean, durations)
    for lo, hi in cov.live_runs(first, last):
        finder = _day_finder(_days(lo, hi), cov.tz)
        for (day, key), cell in _live_cells(session, _midnight(lo, cov.tz), _midnight(hi + timedelta(days=1), cov.tz),
                                            finder, filters).items():
            yield day, key, cell


def _opening_backlog(session: Session, cov: Coverage, first_day: date, filters: Filters,
                     key_index: int | None) -> dict[Any, int]:
    """Open at the local midnight starting `first_day`, per key (or {None: n}): created minus
    resolved over all the days before it, from the rollups where clean, from rows elsewhere."""
    out: Counter[Any] = Counter()
    before = cov.live_runs(cov.first, first_day - timedelta(days=1)) if first_day > cov.first else []
    dirty_days = [d for lo, hi in before for d in _days(lo, hi)]
    key_columns = [ReportRollup.agent_id, ReportRollup.team_id, ReportRollup.inbox_id, ReportRollup.channel]
    group = [key_columns[key_index]] if key_index is not None else []
    where = [ReportRollup.day < first_day]
    for column, value in zip(key_columns, (filters.agent_id, filters.team_id, filters.inbox_id, filters.channel),
                             strict=True):
        if value is not None and value != "":
            where.append(column == value)
    query = select(*group, func.sum(ReportRollup.created) - func.sum(ReportRollup.resolved)).where(*where)
    if dirty_days:
        query = query.where(ReportRollup.day.not_in(dirty_days))
    for row in session.execute(query.group_by(*group) if group else query):
        out[row[0] if group else None] += row[-1] or 0
    # Rows: before the first built day, and the days before `first_day` that are not clean.
    ranges: list[tuple[datetime | None, datetime]] = [(None, _midnight(min(cov.first, first_day), cov.tz))]
    ranges += [(_midnight(lo, cov.tz), _midnight(hi + timedelta(days=1), cov.tz)) for lo, hi in before]
    conv_keys = [Conversation.assignee_id, Conversation.team_id, Conversation.inbox_id,
                 type_coerce(Conversation.channel, String)]
    cgroup = [conv_keys[key_index]] if key_index is not None else []
    cwhere = _conversation_where(filters)
    for lo, hi in ranges:
        for column, sign, extra in ((Conversation.created_at, 1, []),
                                    (Conversation.resolved_at, -1, [Conversation.status == Status.resolved])):
            bounds = [column < hi] + ([column >= lo] if lo is not None else [])
            if not cgroup:
                out[None] += sign * (session.scalar(select(func.count()).where(*bounds, *extra, *cwhere)) or 0)
                continue
            # Counted here, not with GROUP BY: SQLite would then walk the whole table along the
            # key's index instead of the few rows of these days along the time index.
            for (key,) in session.execute(select(*cgroup).where(*bounds, *extra, *cwhere)):
                out[key] += sign
    return dict(out)


def summaries(session: Session, period: Period, filters: Filters, group_bys: Sequence[str | None],
              durations_by_day: bool = True) -> dict[str | None, dict[str, Any]] | None:
    """figures.summaries from the rollups, or None when they cannot serve the period."""
    from helpdesk.reports.figures import _grouped

    cov = coverage(session, period)
    if cov is None:
        return None
    wanted = [g for g in dict.fromkeys(group_bys) if g]
    totals_by_key: dict[Key, Rolled] = defaultdict(Rolled)  # every cell lands in one key
    by_day: dict[Any, Rolled] = defaultdict(Rolled)
    day_durations = "day" in wanted and durations_by_day
    for day, key, cell in _cells(session, cov, period.days[0], period.days[-1], filters, True):
        totals_by_key[key].add_row(cell, True)
        if "day" in wanted and day is not None:
            by_day[day].add_row(cell, day_durations)
    totals = Rolled()
    for fig in totals_by_key.values():
        totals.merge(fig)
    opening = _opening_backlog(session, cov, period.days[0], filters, None).get(None, 0)
    totals.backlog = opening + totals.created - totals.resolved
    results: dict[str | None, dict[str, Any]] = {}
    for group_by in dict.fromkeys(group_bys):
        result: dict[str, Any] = {"from": period.start.isoformat(), "to": period.end.isoformat(),
                                  "timezone": str(period.tz), "group_by": group_by, "hours": "calendar",
                                  "totals": totals.as_dict()}
        if group_by == "day":
            open_now = opening
            groups: dict[Any, Figures] = {}
            for d in period.days:
                fig = by_day.get(d) or Rolled()
                open_now += fig.created - fig.resolved
                fig.backlog = open_now
                groups[d] = fig
            result["groups"] = _grouped(session, period, "day", groups)
        elif group_by is not None:
            index = _KEY_INDEX[group_by]
            merged: dict[Any, Rolled] = defaultdict(Rolled)
            for key, fig in totals_by_key.items():
                merged[key[index]].merge(fig)
            for k, n in _opening_backlog(session, cov, period.days[0], filters, index).items():
                if n or k in merged:
                    merged[k].backlog += n
            for fig in merged.values():
                fig.backlog += fig.created - fig.resolved
            result["groups"] = _grouped(session, period, group_by,
                                        {k: v for k, v in merged.items() if v.backlog or v.created or v.resolved
                                         or v.surveys_sent})
        results[group_by] = result
    return results


def needed_agent_by_day(session: Session, period: Period) -> dict[date, int] | None:
    """Deflection's "needed an agent" per day (every inbox), or None when the rollups cannot serve."""
    cov = coverage(session, period)
    if cov is None:
        return None
    out = dict.fromkeys(period.days, 0)
    # Summed per day in SQL: one row a day rather than one per day and key.
    for day, n in session.execute(select(ReportRollup.day, func.sum(ReportRollup.needed_agent))
                                  .where(ReportRollup.day >= period.days[0], ReportRollup.day <= period.days[-1])
                                  .group_by(ReportRollup.day)):
        if day in cov.clean and day in out:
            out[day] += n or 0
    for lo, hi in cov.live_runs(period.days[0], period.days[-1]):
        for (day, _key), cell in _live_cells(session, _midnight(lo, cov.tz), _midnight(hi + timedelta(days=1), cov.tz),
                                             _day_finder(_days(lo, hi), cov.tz)).items():
            if day in out:
                out[day] += cell.needed_agent
    return out


def refresh_job(ctx: Any, payload: dict[str, Any]) -> None:
    """In phases, one day at a time: its rows are read with no write lock, and only the swap of
    its rollup rows is a (short) write; a year of rebuilt days never holds SQLite's lock for long."""
    tz_name = ctx.settings.get("REPORTS_TIMEZONE") or "UTC"
    tz = ZoneInfo(tz_name)
    with ctx.db.unit_of_work() as session:
        todo = plan_refresh(session, tz_name)
    for day in todo:
        reader = ctx.db.reading()
        try:
            marks, rows = _read_run(reader, tz, [day])
        finally:
            reader.rollback()
            reader.close()
        with ctx.db.unit_of_work() as session:
            _write_run(session, tz_name, [day], marks, rows)


__all__ = ["BASE", "PRECISION", "REFRESH_JOB", "build", "clear", "refresh", "summaries"]
