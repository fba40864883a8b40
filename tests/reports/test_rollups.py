"""The daily rollups: the same figures as the live queries (counts exact, times within the stated
precision), kept fresh by marks written with each change and the worker's refresh (both engines)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk import runtime_of
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM, agent_actor, customer_actor
from helpdesk.reports import rollups
from helpdesk.reports.deflection import deflection
from helpdesk.reports.figures import percentile, summaries
from helpdesk.reports.hours import parse_hours
from helpdesk.reports.ranges import Filters, parse_period, timezone
from helpdesk.reports.rollup_models import ReportDay, ReportDirty
from helpdesk.tickets import csat, services
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import Conversation, Inbox, Status, Team
from tests.conftest import login
from tests.reports.month import build_month

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}
GROUPS = ("day", "agent", "team", "inbox", "channel")
TIMES = ("first_response_median_seconds", "first_response_p90_seconds", "resolution_median_seconds",
         "resolution_p90_seconds")


@pytest.fixture
def month(session: Session) -> Session:
    build_month(session)
    session.commit()
    rollups.build(session, "UTC", until=date(2026, 4, 10))
    session.commit()
    return session


def period(args: dict[str, str] = MARCH, tz: str = "UTC") -> Any:
    return parse_period(args, timezone(tz))


def same_figures(rolled: dict[str, Any], live: dict[str, Any]) -> None:
    """Every count equal, every time within the rollups' precision (plus the 0.1 s rounding)."""
    assert rolled.keys() == live.keys()
    for name, value in live.items():
        if name in TIMES and value is not None:
            # Both sides are rounded to 0.1 s after the bucket's error.
            assert abs(rolled[name] - value) <= rollups.PRECISION * value + 0.1, name
        else:
            assert rolled[name] == value, name


def compare(session: Session, p: Any, filters: Filters = Filters()) -> None:
    rolled = rollups.summaries(session, p, filters, (None, *GROUPS))
    assert rolled is not None, "the rollups should serve this period"
    live = summaries(session, p, filters, (None, *GROUPS), live=True)
    for group_by in (None, *GROUPS):
        same_figures(rolled[group_by]["totals"], live[group_by]["totals"])
        if group_by is None:
            continue
        r_groups, l_groups = rolled[group_by]["groups"], live[group_by]["groups"]
        assert [g["key"] for g in r_groups] == [g["key"] for g in l_groups], group_by
        for r, lv in zip(r_groups, l_groups, strict=True):
            assert r["label"] == lv["label"]
            same_figures({k: v for k, v in r.items() if k not in ("key", "label")},
                         {k: v for k, v in lv.items() if k not in ("key", "label")})


def test_rollup_figures_equal_the_live_queries_with_every_grouping_and_filter(month: Session) -> None:
    s = month
    assert s.scalar(select(func.count()).select_from(ReportDay)) > 31
    agent = s.scalar(select(Agent.id).order_by(Agent.id))
    team = s.scalar(select(Team.id).order_by(Team.id.desc()))
    inbox = s.scalar(select(Inbox.id).where(Inbox.name == "Shop chat"))
    for filters in (Filters(), Filters(agent_id=agent), Filters(team_id=team), Filters(inbox_id=inbox),
                    Filters(channel="email"), Filters(agent_id=agent, channel="chat")):
        compare(s, period(), filters)
    # A period that starts before the first built day and one that ends after the data: the
    # backlog carried in and the days around are read from rows.
    compare(s, period({"from": "2026-02-20", "to": "2026-03-10"}))
    compare(s, period({"from": "2026-03-15", "to": "2026-04-20"}))
    # The dashboard's deflection reads "needed an agent" from the rollups too.
    assert rollups.needed_agent_by_day(s, period()) is not None
    rolled = deflection(s, period())
    rows = summaries(s, period(), group_bys=("day",), live=True)
    assert rolled["needed_agent"] <= sum(g["conversations_created"] for g in rows["day"]["groups"])


def test_what_the_rollups_do_not_serve_stays_live_and_exact(month: Session) -> None:
    s = month
    # Another zone, a time-of-day bound, or business hours: computed from rows as before.
    assert rollups.summaries(s, period(tz="Europe/Berlin"), Filters(), (None,)) is None
    assert rollups.summaries(s, period({"from": "2026-03-01T12:00:00Z", "to": "2026-03-20"}),
                             Filters(), (None,)) is None
    clock = parse_hours("Mon-Fri 09:00-17:00", timezone("UTC")).clock()
    assert summaries(s, period(), clock=clock) == summaries(s, period(), clock=clock, live=True)
    # Nothing built: exact.
    rollups.clear(s)
    s.commit()
    assert rollups.summaries(s, period(), Filters(), (None,)) is None
    assert summaries(s, period()) == summaries(s, period(), live=True)


def test_histogram_percentiles_are_within_the_stated_precision() -> None:
    rnd = random.Random(3)
    for n in (1, 2, 5, 50, 999):
        values = sorted(rnd.expovariate(1 / 3600) for _ in range(n))
        hist: Any = {}
        for v in values:
            hist[str(rollups.bucket(v))] = hist.get(str(rollups.bucket(v)), 0) + 1
        for q in (0.5, 0.9):
            exact = percentile(values, q)
            assert abs(rollups.hist_percentile(hist, n, q) - exact) <= rollups.PRECISION * exact + 1.0
    assert rollups.hist_percentile({}, 0, 0.5) is None


def marked_days(session: Session) -> set[date]:
    return {at.date() for at in session.scalars(select(ReportDirty.at))}


def conversation_of(session: Session, **where: Any) -> Conversation:
    return session.scalars(select(Conversation).filter_by(**where).order_by(Conversation.id)).first()


def test_a_change_marks_its_days_the_report_reads_them_live_and_the_worker_rebuilds_them(
        app: Flask, month: Session) -> None:
    s = month
    assert marked_days(s) == set()
    # Resolve an open conversation now: its creation day in March is stale.
    conv = conversation_of(s, status=Status.open)
    created = conv.created_at.date()
    services.set_status(s, SYSTEM, conv, Status.resolved)
    s.commit()
    assert created in marked_days(s)
    compare(s, period())  # that day is read live, so the figures are right at once
    # Reassign a resolved one, and reopen another: both their days are marked.
    other = s.scalars(select(Agent).order_by(Agent.id.desc())).first()
    done = conversation_of(s, status=Status.resolved)
    services.assign(s, agent_actor(other), done, other)
    reopened = s.scalars(select(Conversation).where(Conversation.status == Status.resolved,
                                                    Conversation.id != done.id).order_by(Conversation.id.desc())
                         ).first()
    services.set_status(s, SYSTEM, reopened, Status.open)
    s.commit()
    assert {done.created_at.date(), done.resolved_at.date(), reopened.created_at.date()} <= marked_days(s)
    compare(s, period())
    # A customer answers a survey: the day it was sent is marked.
    survey = s.scalars(select(CsatSurvey).where(CsatSurvey.score.is_(None)).order_by(CsatSurvey.id)).first()
    survey.expires_at = datetime.now(UTC) + timedelta(days=1)
    s.commit()
    csat.submit_score(s, customer_actor(survey.conversation.customer), survey, 1, "late")
    s.commit()
    assert survey.sent_at.date() in marked_days(s)
    compare(s, period())
    # The worker's round rebuilds the marked days and spends the marks; the figures stay right.
    before = {d: b for d, b in s.execute(select(ReportDay.day, ReportDay.built_at))}
    assert rollups.refresh(s, "UTC") >= 1
    s.commit()
    assert marked_days(s) == set()
    after = {d: b for d, b in s.execute(select(ReportDay.day, ReportDay.built_at))}
    assert after[created] > before[created]
    compare(s, period())
    assert rollups.REFRESH_JOB in runtime_of(app).jobs.every


def test_an_agent_reply_to_an_open_conversation_writes_no_mark(month: Session) -> None:
    s = month
    conv = conversation_of(s, status=Status.open)
    agent = s.get(Agent, conv.assignee_id)
    services.post_message(s, agent_actor(agent), conv, body="Still on it")
    s.commit()
    assert marked_days(s) == set()


def test_the_dashboard_and_csv_read_the_same_with_and_without_rollups(
        app: Flask, client: FlaskClient, manager: Agent, session: Session) -> None:
    build_month(session)
    session.commit()
    login(client, manager.email)
    args = "from=2026-03-01&to=2026-03-31"
    team = session.scalar(select(Team.public_id).order_by(Team.id))
    session.rollback()  # no read left open beside the app's requests
    pages = [f"/reports?{args}", f"/reports?{args}&table=channel", f"/reports?{args}&team={team}&table=inbox",
             f"/reports?{args}&channel=chat&table=team"]
    live = [client.get(p).get_data(as_text=True) for p in pages]
    csv_live = client.get(f"/reports/conversations.csv?{args}").get_data(as_text=True)
    rollups.build(session, "UTC", until=date(2026, 4, 10))
    session.commit()
    rolled = [client.get(p).get_data(as_text=True) for p in pages]
    for a, b in zip(live, rolled, strict=True):
        for kpi in ("created", "backlog", "csat", "response_rate", "replies", "needed_agent"):
            marker = f'data-kpi="{kpi}">'
            assert a.split(marker)[1].split("<")[0] == b.split(marker)[1].split("<")[0], kpi
    assert client.get(f"/reports/conversations.csv?{args}").get_data(as_text=True) == csv_live


def test_the_command_line_builds_the_history_once(app: Flask, session: Session, database_url: str,
                                                   tmp_path: Any) -> None:
    from tests.test_cli import helpdesk

    build_month(session)
    session.commit()
    rollups.build(session, "UTC", until=date(2026, 3, 5))  # some days already there: --full forgets them
    session.commit()
    result = helpdesk(database_url, tmp_path, "reports", "rebuild-rollups", "--full")
    assert result.returncode == 0, result.stderr
    days = int(result.stdout.split("rollups of ")[1].split()[0])
    assert days > 31 and "(UTC)" in result.stdout
    assert rollups.build(session, "UTC") == 0  # nothing left to build
    assert rollups.summaries(session, period(), Filters(), (None,)) is not None


def test_a_new_report_zone_is_live_until_the_worker_has_rebuilt_its_days(month: Session) -> None:
    s = month
    berlin = period(tz="Europe/Berlin")
    assert rollups.summaries(s, berlin, Filters(), (None,)) is None  # built in UTC: not for Berlin days
    for _ in range(3):  # bounded runs of at most MAX_DAYS_PER_RUN days, the stale ones first
        assert rollups.refresh(s, "Europe/Berlin") <= rollups.MAX_DAYS_PER_RUN
    s.commit()
    compare(s, berlin)
