"""The period and filters of a report, parsed once from query parameters."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helpdesk.errors import Invalid

GROUPS = ("agent", "team", "inbox", "channel", "day")
CHANNELS = ("chat", "email", "phone")
MAX_DAYS = 3660
MAX_TZ_NAME = 64  # the longest IANA name is about 30 characters
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Period:
    """Half-open [start, end) in UTC, with the local days it spans (for grouping by day)."""

    start: datetime
    end: datetime
    tz: ZoneInfo
    days: tuple[date, ...] = field(default=())
    # Epoch seconds of each local midnight from the first day to the day after the last.
    boundaries: tuple[float, ...] = field(default=())

    def day_of(self, epoch: float) -> date | None:
        i = bisect_right(self.boundaries, epoch) - 1
        return self.days[i] if 0 <= i < len(self.days) else None


@dataclass(frozen=True)
class Filters:
    agent_id: int | None = None
    team_id: int | None = None
    inbox_id: int | None = None
    channel: str | None = None


def timezone(name: str | None) -> ZoneInfo:
    if name and len(name) > MAX_TZ_NAME:  # a file name lookup: a long one is an OSError, not "unknown"
        raise Invalid("timezone", "unknown time zone")
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid("timezone", f"unknown time zone {name!r}") from None


def _parse(value: str, name: str, tz: ZoneInfo, *, end: bool) -> datetime:
    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            # A date names a whole local day; `to` includes it, so the period ends at the next midnight.
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), tz).astimezone(UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(name, "a date (YYYY-MM-DD) or an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def make_period(start: datetime, end: datetime, tz: ZoneInfo) -> Period:
    if end <= start:
        raise Invalid("from", "must be before to", code="invalid_range")
    if end - start > timedelta(days=MAX_DAYS):
        raise Invalid("to", f"a period of at most {MAX_DAYS} days", code="invalid_range")
    first = start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    days = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
    boundaries = tuple(datetime.combine(d, time(), tz).timestamp() for d in (*days, last + timedelta(days=1)))
    return Period(start, end, tz, days, boundaries)


def parse_period(args: Mapping[str, str], tz: ZoneInfo, now: datetime | None = None) -> Period:
    """`from` and `to` (dates are whole local days, `to` included); the last 30 days by default."""
    now = now or datetime.now(UTC)
    raw_from, raw_to = (args.get("from") or "").strip(), (args.get("to") or "").strip()
    end = _parse(raw_to, "to", tz, end=True) if raw_to else _parse(
        now.astimezone(tz).date().isoformat(), "to", tz, end=True)
    start = _parse(raw_from, "from", tz, end=False) if raw_from else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise Invalid("from", "must be before to", code="invalid_range")
    return make_period(start, end, tz)


def parse_group(value: str | None) -> str | None:
    if not value:
        return None
    if value not in GROUPS:
        raise Invalid("group_by", f"one of {', '.join(GROUPS)}")
    return value
