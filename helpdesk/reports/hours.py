"""Business hours: durations counted only while the support team is at work.

A schedule such as "Mon-Fri 09:00-17:00" (or "Mon-Thu 08:00-18:00, Fri 08:00-14:00") in the report
time zone. A duration is B(end) - B(start), where B(t) counts the business seconds from a fixed
Monday up to t in local wall-clock time: two lookups per conversation instead of walking days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from helpdesk.errors import Invalid

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ORIGIN = date(2001, 1, 1)  # a Monday
_PART = re.compile(r"^\s*(\w{3})(?:\s*-\s*(\w{3}))?\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class BusinessHours:
    tz: ZoneInfo
    # (open, close) in seconds after local midnight per weekday, Monday first; None: closed.
    days: tuple[tuple[int, int] | None, ...]

    @property
    def prefix(self) -> list[int]:
        out, total = [], 0
        for hours in self.days:
            out.append(total)
            total += (hours[1] - hours[0]) if hours else 0
        out.append(total)
        return out

    def clock(self) -> BusinessClock:
        return BusinessClock(self)


class BusinessClock:
    """B(t) with the schedule's constants computed once; `between(a, b)` is the business duration."""

    def __init__(self, hours: BusinessHours) -> None:
        self.tz = hours.tz
        self.days = hours.days
        self.prefix = hours.prefix
        self.week = self.prefix[-1]

    def at(self, epoch: float) -> float:
        local = datetime.fromtimestamp(epoch, self.tz)
        weeks, weekday = divmod((local.date() - ORIGIN).days, 7)
        total = weeks * self.week + self.prefix[weekday]
        if (hours := self.days[weekday]) is not None:
            second = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
            total += min(max(second - hours[0], 0), hours[1] - hours[0])
        return total

    def between(self, start: float, end: float) -> float:
        return max(0.0, self.at(end) - self.at(start))


def parse_hours(text: str, tz: ZoneInfo) -> BusinessHours:
    days: list[tuple[int, int] | None] = [None] * 7
    for part in (text or "").split(","):
        m = _PART.match(part)
        if not m:
            raise Invalid("business_hours", "like 'Mon-Fri 09:00-17:00'")
        first, last = m.group(1).lower(), (m.group(2) or m.group(1)).lower()
        if first not in DAYS or last not in DAYS or DAYS.index(last) < DAYS.index(first):
            raise Invalid("business_hours", "days are Mon, Tue, Wed, Thu, Fri, Sat, Sun")
        opens = int(m.group(3)) * 3600 + int(m.group(4)) * 60
        closes = int(m.group(5)) * 3600 + int(m.group(6)) * 60
        if not 0 <= opens < closes <= 24 * 3600:
            raise Invalid("business_hours", "opening before closing, within the day")
        for i in range(DAYS.index(first), DAYS.index(last) + 1):
            days[i] = (opens, closes)
    return BusinessHours(tz, tuple(days))
