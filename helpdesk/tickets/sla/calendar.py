"""Business-hours arithmetic: pure functions, no database, no Flask.

A calendar is a time zone, open intervals per weekday in local wall time, and holidays (closed all
day). Instants are aware UTC datetimes. Each local day's intervals are mapped to UTC through
zoneinfo, so a day on which the clocks change is 23 or 25 hours long and an interval of 09:00-17:00
is always eight hours of wall time; wall times that do not exist (the spring gap) are clipped so
the open intervals stay ordered and disjoint.

`add(cal, t, d)` is the instant at which `d` of open time has passed since `t`; `between(cal, a, b)`
is the open time in [a, b). They are inverse: between(t, add(t, d)) == d. `None` as a calendar
means open all the time (24/7), where both are plain arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helpdesk.errors import Invalid

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
MAX_HOLIDAYS = 1000
MAX_INTERVALS_PER_DAY = 8
# A calendar open one minute a week still finishes a year's target in far fewer days than this;
# the bound only stops a loop on a calendar whose every day ahead is a holiday.
MAX_DAYS_SCANNED = 366 * 30
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
ZERO = timedelta(0)


@dataclass(frozen=True)
class Calendar:
    timezone: str
    # weekday (0 = Monday) -> ordered, disjoint (start, end) minutes after local midnight
    hours: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[date]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _minutes(value: Any, where: str) -> int:
    if not isinstance(value, str) or not (m := _HHMM.match(value)):
        raise Invalid("hours", f"{where}: {value!r} is not a time HH:MM")
    minutes = int(m.group(1)) * 60 + int(m.group(2))
    if minutes > DAY_MINUTES:
        raise Invalid("hours", f"{where}: {value!r} is past 24:00")
    return minutes


def parse(timezone: Any, hours: Any, holidays: Any = ()) -> Calendar:
    """Validate a calendar as the API and the console send it; raises Invalid, never half-parses.

    hours: {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], ...}; a day left out is closed;
    "24:00" ends a day. holidays: ["2026-12-25", ...]."""
    if not isinstance(timezone, str) or not timezone.strip():
        raise Invalid("timezone", "an IANA time zone such as Europe/Berlin")
    try:
        ZoneInfo(timezone.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("timezone", f"{timezone!r} is not an IANA time zone") from None
    if not isinstance(hours, Mapping):
        raise Invalid("hours", 'an object of weekday -> [["09:00", "17:00"], ...]')
    if unknown := [k for k in hours if k not in WEEKDAYS]:
        raise Invalid("hours", f"unknown weekday {unknown[0]!r}; use {', '.join(WEEKDAYS)}")
    week: list[tuple[tuple[int, int], ...]] = []
    for day in WEEKDAYS:
        raw = hours.get(day) or []
        if not isinstance(raw, list | tuple) or len(raw) > MAX_INTERVALS_PER_DAY:
            raise Invalid("hours", f"{day}: a list of at most {MAX_INTERVALS_PER_DAY} [start, end] pairs")
        intervals = []
        for pair in raw:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise Invalid("hours", f"{day}: each interval is [start, end]")
            start, end = _minutes(pair[0], day), _minutes(pair[1], day)
            if end <= start:
                raise Invalid("hours", f"{day}: {pair[0]}-{pair[1]} ends before it starts")
            intervals.append((start, end))
        intervals.sort()
        for (_s1, e1), (s2, _e2) in pairwise(intervals):
            if s2 < e1:
                raise Invalid("hours", f"{day}: intervals overlap")
        week.append(tuple(intervals))
    if not any(week):
        raise Invalid("hours", "open at least one interval of the week")
    if isinstance(holidays, str) or not isinstance(holidays, list | tuple | set | frozenset):
        raise Invalid("holidays", "a list of dates YYYY-MM-DD")
    if len(holidays) > MAX_HOLIDAYS:
        raise Invalid("holidays", f"at most {MAX_HOLIDAYS}")
    days = set()
    for value in holidays:
        try:
            days.add(date.fromisoformat(value) if isinstance(value, str) else _not_a_date(value))
        except ValueError:
            raise Invalid("holidays", f"{value!r} is not a date YYYY-MM-DD") from None
    return Calendar(timezone.strip(), tuple(week), frozenset(days))


def _not_a_date(value: Any) -> date:
    raise ValueError(value)


def hours_dict(calendar: Calendar) -> dict[str, list[list[str]]]:
    """The weekly hours back in the API's shape (closed days left out)."""
    def hhmm(minutes: int) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    return {day: [[hhmm(s), hhmm(e)] for s, e in calendar.hours[i]]
            for i, day in enumerate(WEEKDAYS) if calendar.hours[i]}


def _local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes >= DAY_MINUTES:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone).astimezone(UTC)


def open_intervals(calendar: Calendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The calendar's open intervals in UTC, in order, disjoint, from the one that holds `start`."""
    zone = calendar.zone
    # From the local day before: the scan then always starts in the same state for a given instant.
    day = start.astimezone(zone).date() - timedelta(days=1)
    last_end: datetime | None = None
    for _ in range(MAX_DAYS_SCANNED):
        if day not in calendar.holidays:
            for s, e in calendar.hours[day.weekday()]:
                lo, hi = _local(day, s, zone), _local(day, e, zone)
                if last_end is not None and lo < last_end:
                    lo = last_end  # a wall time in the spring gap maps before its predecessor
                if hi <= lo:
                    continue
                last_end = hi
                if hi > start:
                    yield lo, hi
        day += timedelta(days=1)
    raise Invalid("business_hours", "no open hours within 30 years (every day a holiday?)")


def add(calendar: Calendar | None, start: datetime, duration: timedelta) -> datetime:
    """The instant at which `duration` of open time has passed since `start`."""
    if duration < ZERO:
        raise ValueError("duration must not be negative")
    if calendar is None:
        return start + duration
    if duration == ZERO:
        return start
    left = duration
    for lo, hi in open_intervals(calendar, start):
        lo = max(lo, start)
        if left <= hi - lo:
            return lo + left
        left -= hi - lo
    raise AssertionError("open_intervals ends only by raising")


def between(calendar: Calendar | None, start: datetime, end: datetime) -> timedelta:
    """The open time in [start, end); zero when end is not after start."""
    if end <= start:
        return ZERO
    if calendar is None:
        return end - start
    total = ZERO
    for lo, hi in open_intervals(calendar, start):
        if lo >= end:
            break
        total += min(hi, end) - max(lo, start)
    return total


def is_open(calendar: Calendar | None, at: datetime) -> bool:
    if calendar is None:
        return True
    for lo, hi in open_intervals(calendar, at):
        return lo <= at < hi
    return False
