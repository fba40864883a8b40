"""Due-time arithmetic: business minutes across DST changes, holidays and split days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk.errors import Invalid
from helpdesk.tickets.sla import calendar as cal

WEEKDAYS_9_TO_5 = {d: [["09:00", "12:00"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
BERLIN = cal.parse("Europe/Berlin", WEEKDAYS_9_TO_5, ["2026-12-25", "2026-12-24", "2027-03-29"])
NEW_YORK = cal.parse("America/New_York", {**WEEKDAYS_9_TO_5, "sun": [["01:00", "04:00"]]},
                     ["2026-11-26", "2027-03-15"])
# Open across the local night, so the 02:00-03:00 spring gap and the doubled fall hour fall inside.
NIGHT_OWL = cal.parse("Europe/Berlin", {d: [["00:00", "04:00"], ["22:00", "24:00"]] for d in cal.WEEKDAYS}, [])
ALWAYS = cal.parse("America/New_York", {d: [["00:00", "24:00"]] for d in cal.WEEKDAYS}, [])
CALENDARS = [BERLIN, NEW_YORK, NIGHT_OWL, ALWAYS]

# Around the 2026/2027 changes: Berlin 2026-10-25 and 2027-03-28, New York 2026-11-01 and 2027-03-14.
instants = st.datetimes(min_value=datetime(2026, 10, 20), max_value=datetime(2027, 4, 5)).map(
    lambda d: d.replace(tzinfo=UTC))
durations = st.integers(min_value=0, max_value=5_000).map(lambda m: timedelta(minutes=m))
calendars = st.sampled_from(CALENDARS)
FAST = settings(max_examples=150, deadline=None)


@FAST
@given(calendars, instants, durations, durations)
def test_adding_in_two_steps_equals_adding_at_once(c: cal.Calendar, t: datetime, a: timedelta,
                                                   b: timedelta) -> None:
    assert cal.add(c, t, a + b) == cal.add(c, cal.add(c, t, a), b)


@FAST
@given(calendars, instants, durations)
def test_between_undoes_add(c: cal.Calendar, t: datetime, d: timedelta) -> None:
    assert cal.between(c, t, cal.add(c, t, d)) == d


@FAST
@given(calendars, instants, durations.filter(lambda d: d > timedelta(0)))
def test_a_due_time_is_always_inside_open_hours(c: cal.Calendar, t: datetime, d: timedelta) -> None:
    due = cal.add(c, t, d)
    # The due instant ends open time: the moment just before it is open, never a holiday.
    assert cal.is_open(c, due - timedelta(microseconds=1))


@FAST
@given(instants, durations)
def test_a_calendar_open_all_the_time_is_plain_addition(t: datetime, d: timedelta) -> None:
    assert cal.add(ALWAYS, t, d) == t + d == cal.add(None, t, d)
    assert cal.between(ALWAYS, t, t + d) == d


@FAST
@given(calendars, instants, instants)
def test_between_is_additive(c: cal.Calendar, a: datetime, b: datetime) -> None:
    lo, hi = sorted((a, b))
    mid = lo + (hi - lo) / 2
    assert cal.between(c, lo, hi) == cal.between(c, lo, mid) + cal.between(c, mid, hi)


def at(text: str, zone: str = "Europe/Berlin") -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def test_friday_afternoon_is_due_on_monday_and_holidays_are_closed() -> None:
    # Fri 2026-12-18 16:00 + 2h: one hour on Friday, one on Monday morning.
    assert cal.add(BERLIN, at("2026-12-18T16:00"), timedelta(hours=2)) == at("2026-12-21T10:00")
    # Wed 23 Dec 16:30 + 1h: 24 and 25 December are holidays -> Monday 28th 09:30.
    assert cal.add(BERLIN, at("2026-12-23T16:30"), timedelta(hours=1)) == at("2026-12-28T09:30")
    # The lunch break does not count.
    assert cal.add(BERLIN, at("2026-12-21T11:30"), timedelta(hours=1)) == at("2026-12-21T13:30")


def test_a_night_shift_across_the_fall_back_counts_the_doubled_hour() -> None:
    # 2026-10-25 Berlin: 03:00 CEST becomes 02:00 CET; 00:00-04:00 is five real hours.
    start = at("2026-10-25T00:00")
    assert cal.between(NIGHT_OWL, start, at("2026-10-25T04:00")) == timedelta(hours=5)
    # And across the spring gap 00:00-04:00 is three real hours.
    assert cal.between(NIGHT_OWL, at("2027-03-28T00:00"), at("2027-03-28T04:00")) == timedelta(hours=3)


def test_new_york_spring_forward_keeps_nine_to_five_local() -> None:
    # Fri 2027-03-12 16:00 EST + 4h: 1h on Friday, Sunday 01:00-04:00 is only 2h (02:00 is
    # skipped), Monday 15 is a holiday -> Tuesday 10:00 EDT.
    ny = "America/New_York"
    assert cal.add(NEW_YORK, at("2027-03-12T16:00", ny), timedelta(hours=2)) == at("2027-03-14T03:00", ny)
    assert cal.add(NEW_YORK, at("2027-03-12T16:00", ny), timedelta(hours=4)) == at("2027-03-16T10:00", ny)
    # Fall back 2026-11-01: Sunday 01:00-04:00 holds four real hours.
    assert cal.between(NEW_YORK, at("2026-11-01T00:00", ny), at("2026-11-01T05:00", ny)) == timedelta(hours=4)


@pytest.mark.parametrize("timezone, hours, holidays, field", [
    ("Europe/Berlin", {"mon": [["09:00", "17:00"], ["12:00", "18:00"]]}, [], "hours"),
    ("Europe/Berlin", {"mon": [["17:00", "09:00"]]}, [], "hours"),
    ("Europe/Berlin", {"mon": [["09:00", "09:00"]]}, [], "hours"),
    ("Europe/Berlin", {"mon": [["09:00", "25:00"]]}, [], "hours"),
    ("Europe/Berlin", {"mon": [["9am", "17:00"]]}, [], "hours"),
    ("Europe/Berlin", {"funday": [["09:00", "17:00"]]}, [], "hours"),
    ("Europe/Berlin", {}, [], "hours"),
    ("Mars/Olympus", {"mon": [["09:00", "17:00"]]}, [], "timezone"),
    ("Europe/Berlin", {"mon": [["09:00", "17:00"]]}, ["2026-02-30"], "holidays"),
    ("Europe/Berlin", {"mon": [["09:00", "17:00"]]}, "2026-12-25", "holidays"),
])
def test_impossible_calendars_are_refused(timezone: str, hours: dict, holidays: list, field: str) -> None:
    with pytest.raises(Invalid) as err:
        cal.parse(timezone, hours, holidays)
    assert err.value.field == field


pauses = st.lists(st.tuples(instants, st.integers(min_value=1, max_value=3000)), max_size=4).map(
    lambda spans: _disjoint([(t, t + timedelta(minutes=m)) for t, m in spans]))


def _disjoint(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


@FAST
@given(calendars, instants, durations, pauses)
def test_a_due_time_with_pauses_leaves_exactly_the_target_of_unpaused_open_time(
        c: cal.Calendar, t: datetime, d: timedelta, spans: list[tuple[datetime, datetime]]) -> None:
    from helpdesk.tickets.sla.services import due

    at = due(c, t, int(d.total_seconds() // 60), spans)
    paused = sum((cal.between(c, max(a, t), min(b, at)) for a, b in spans), timedelta(0))
    assert cal.between(c, t, at) - paused == d
