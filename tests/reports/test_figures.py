"""Every figure of the reports, on the hand-made period of dataset.py (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from helpdesk.errors import Invalid
from helpdesk.reports.figures import percentile, summaries, summary
from helpdesk.reports.hours import parse_hours
from helpdesk.reports.ranges import Filters, parse_period, timezone
from tests.reports.dataset import Dataset, build

PERIOD = {"from": "2026-03-01", "to": "2026-03-03"}


@pytest.fixture
def data(session: Session) -> Dataset:
    ds = build(session)
    session.commit()
    return ds


def period(args: dict[str, str] = PERIOD, tz: str = "UTC"):
    return parse_period(args, timezone(tz))


def test_totals_of_the_period_match_the_hand_computed_figures(session: Session, data: Dataset) -> None:
    t = summary(session, period())["totals"]
    assert t["conversations_created"] == 5          # c1-c5; c6, c7 before, c8 after
    assert t["conversations_resolved"] == 4         # c1, c2, c3 and c6
    assert t["backlog"] == 3                        # c4, c5, c7 open at the end of 3 March
    assert t["first_responses"] == 4
    assert t["first_response_median_seconds"] == 360.0   # 60, 120, 600, 1800
    assert t["first_response_p90_seconds"] == 1440.0     # 600 + 0.7 * 1200
    assert t["resolution_median_seconds"] == 41400.0     # 3600, 3600, 79200, 86400
    assert t["resolution_p90_seconds"] == 84240.0        # 79200 + 0.7 * 7200
    assert t["replies_per_conversation"] == 1.75         # (2 + 1 + 3 + 1) / 4; a private note is no reply
    assert t["surveys_sent"] == 4
    assert t["survey_responses"] == 3
    assert t["response_rate"] == 0.75
    assert t["csat"] == pytest.approx(2 / 3, abs=1e-4)    # 5 and 4 of 5, 4, 2
    assert t["average_score"] == 3.67
    assert t["score_distribution"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}


def test_grouped_by_agent_scores_stay_with_the_agent_who_was_asked_about(session: Session,
                                                                         data: Dataset) -> None:
    groups = {g["label"]: g for g in summary(session, period(), group_by="agent")["groups"]}
    assert set(groups) == {"Alice", "Bob", "Unassigned"}
    alice, bob, nobody = groups["Alice"], groups["Bob"], groups["Unassigned"]
    assert alice["key"] == data.alice.public_id
    assert (alice["conversations_created"], alice["conversations_resolved"], alice["backlog"]) == (2, 3, 0)
    assert alice["first_response_median_seconds"] == 90.0
    assert alice["resolution_median_seconds"] == 79200.0      # 3600, 79200, 86400
    assert alice["replies_per_conversation"] == 1.33
    assert (alice["surveys_sent"], alice["survey_responses"]) == (2, 2)
    assert (alice["csat"], alice["average_score"]) == (0.5, 3.5)
    # c6 is Alice's now but its survey was sent while it was Bob's: it counts for Bob.
    assert (bob["conversations_created"], bob["conversations_resolved"], bob["backlog"]) == (2, 1, 2)
    assert bob["first_response_median_seconds"] == 1200.0
    assert bob["replies_per_conversation"] == 3.0
    assert (bob["surveys_sent"], bob["survey_responses"]) == (2, 1)
    assert (bob["response_rate"], bob["csat"]) == (0.5, 1.0)
    assert (nobody["conversations_created"], nobody["backlog"], nobody["surveys_sent"]) == (1, 1, 0)


def test_grouped_by_day_every_day_is_listed_with_its_running_backlog(session: Session, data: Dataset) -> None:
    groups = summary(session, period(), group_by="day")["groups"]
    assert [g["key"] for g in groups] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert [g["conversations_created"] for g in groups] == [2, 2, 1]
    assert [g["conversations_resolved"] for g in groups] == [2, 2, 0]
    assert [g["backlog"] for g in groups] == [2, 2, 3]
    assert [g["csat"] for g in groups] == [1.0, 0.5, None]
    assert [g["surveys_sent"] for g in groups] == [2, 2, 0]


def test_grouped_by_channel_inbox_and_team(session: Session, data: Dataset) -> None:
    by_channel = {g["key"]: g for g in summary(session, period(), group_by="channel")["groups"]}
    chat, email = by_channel["chat"], by_channel["email"]
    assert (chat["conversations_created"], email["conversations_created"]) == (3, 2)
    assert (chat["conversations_resolved"], email["conversations_resolved"]) == (2, 2)
    assert by_channel["chat"]["backlog"] == 2 and by_channel["email"]["backlog"] == 1
    assert by_channel["chat"]["csat"] == 0.5 and by_channel["email"]["csat"] == 1.0
    by_inbox = {g["label"]: g for g in summary(session, period(), group_by="inbox")["groups"]}
    assert by_inbox["Chat"]["key"] == data.chat.public_id
    assert by_inbox["Mail"]["conversations_created"] == 2
    by_team = {g["label"]: g for g in summary(session, period(), group_by="team")["groups"]}
    assert by_team["T1"]["conversations_created"] == 2 and by_team["T1"]["csat"] == 0.5
    assert by_team["No team"]["conversations_created"] == 3


def test_filters_narrow_every_figure(session: Session, data: Dataset) -> None:
    alice = summary(session, period(), Filters(agent_id=data.alice.id))["totals"]
    assert (alice["conversations_created"], alice["conversations_resolved"], alice["csat"]) == (2, 3, 0.5)
    email = summary(session, period(), Filters(channel="email"))["totals"]
    assert (email["conversations_created"], email["surveys_sent"], email["survey_responses"]) == (2, 2, 1)
    team = summary(session, period(), Filters(team_id=data.team.id))["totals"]
    assert (team["conversations_created"], team["surveys_sent"]) == (2, 2)
    inbox = summary(session, period(), Filters(inbox_id=data.mail.id))["totals"]
    assert inbox["conversations_created"] == 2 and inbox["backlog"] == 1


def test_an_empty_period_has_zero_counts_and_no_rates(session: Session, data: Dataset) -> None:
    t = summary(session, period({"from": "2025-01-01", "to": "2025-01-31"}))["totals"]
    assert (t["conversations_created"], t["surveys_sent"], t["backlog"]) == (0, 0, 0)
    assert t["csat"] is None and t["first_response_median_seconds"] is None and t["response_rate"] is None


def test_a_date_range_with_from_after_to_is_refused() -> None:
    with pytest.raises(Invalid) as err:
        period({"from": "2026-03-05", "to": "2026-03-01"})
    assert err.value.code == "invalid_range"
    with pytest.raises(Invalid):
        period({"from": "yesterday", "to": "2026-03-01"})


def test_dates_are_whole_days_in_the_report_time_zone() -> None:
    p = period({"from": "2026-03-01", "to": "2026-03-03"}, "Europe/Berlin")
    assert p.start == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert p.end == datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
    assert len(p.days) == 3
    # 23:30 UTC on 1 March is already 2 March in Berlin.
    assert p.day_of(datetime(2026, 3, 1, 23, 30, tzinfo=UTC).timestamp()).isoformat() == "2026-03-02"


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([float(x) for x in range(1, 11)], 0.9) == pytest.approx(9.1)


def test_business_hours_count_only_the_opening_times_even_across_a_clock_change() -> None:
    utc = parse_hours("Mon-Fri 09:00-17:00", timezone("UTC")).clock()
    friday_16h, monday_10h = datetime(2026, 3, 6, 16, tzinfo=UTC), datetime(2026, 3, 9, 10, tzinfo=UTC)
    assert utc.between(friday_16h.timestamp(), monday_10h.timestamp()) == 7200
    assert utc.between(datetime(2026, 3, 7, 9, tzinfo=UTC).timestamp(),
                       datetime(2026, 3, 8, 20, tzinfo=UTC).timestamp()) == 0  # a weekend
    berlin = timezone("Europe/Berlin")
    local = parse_hours("Mon-Fri 09:00-17:00, Sat 10:00-12:00", berlin).clock()
    # Summer time starts on Sunday 29 March 2026: Friday 16:00 to Monday 10:00 local is 1 + 2 + 1 hours.
    start = datetime(2026, 3, 27, 16, tzinfo=berlin).timestamp()
    end = datetime(2026, 3, 30, 10, tzinfo=berlin).timestamp()
    assert local.between(start, end) == 4 * 3600
    for bad in ("weekdays", "Fri-Mon 09:00-17:00", "Mon 17:00-09:00", "Mon 09:00-25:00"):
        with pytest.raises(Invalid):
            parse_hours(bad, berlin)


def test_in_business_hours_the_weekend_does_not_count(session: Session, data: Dataset) -> None:
    # 1 March 2026 is a Sunday: c1, c2 and c6 waited over the weekend; c3 was answered before 09:00.
    clock = parse_hours("Mon-Fri 09:00-17:00", timezone("UTC")).clock()
    t = summary(session, period(), clock=clock)["totals"]
    # First responses 0, 0, 0, 1800; resolutions 0, 0, 0, 10800 (Monday 09:00-12:00 for c2).
    assert (t["first_response_median_seconds"], t["first_response_p90_seconds"]) == (0.0, 1260.0)
    assert (t["resolution_median_seconds"], t["resolution_p90_seconds"]) == (0.0, 7560.0)
    assert t["conversations_created"] == 5  # counts do not change


def test_several_groupings_at_once_equal_each_grouping_alone(session: Session, data: Dataset) -> None:
    both = summaries(session, period(), group_bys=("day", "agent", None))
    assert both["day"] == summary(session, period(), group_by="day")
    assert both["agent"] == summary(session, period(), group_by="agent")
    assert both[None] == summary(session, period())
