"""The queue at scale: every sort and tab is an index range (a plan the test can read) and the
statements per page do not grow with the rows (bench/console_pages.py has the figures)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.tickets.models import Inbox
from tests.factories import make_conversation, make_inbox

SORTS = ("activity", "newest", "oldest", "waiting", "priority", "due")


@pytest.fixture
def inbox(app: Flask) -> Inbox:
    return make_inbox(app)[0]


@contextmanager
def statements(app: Flask) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        seen.append((statement, parameters))

    engine = db_of(app).engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _page(app: Flask, client: FlaskClient, path: str) -> list[tuple[str, Any]]:
    with statements(app) as seen:
        response = client.get(path)
        assert response.status_code == 200, path
    return seen


@pytest.mark.parametrize("sort", SORTS)
def test_statements_per_page_do_not_grow_with_rows(app: Flask, agent_client: FlaskClient, inbox: Inbox,
                                                   sort: str) -> None:
    path = f"/console?view=all&status=open&sort={sort}&limit=5"
    agent_client.get(path)  # warm: login, settings
    for i in range(2):
        make_conversation(app, inbox, email=f"g{i}@example.com")
    few = len(_page(app, agent_client, path))
    for i in range(2, 14):
        make_conversation(app, inbox, email=f"g{i}@example.com")
    many = _page(app, agent_client, path)
    assert len(many) <= few, [s for s, _p in many]  # priority: fewer once a priority fills the page


def test_each_tab_and_sort_is_an_index_range_on_sqlite(app: Flask, agent_client: FlaskClient, inbox: Inbox) -> None:
    """No "TEMP B-TREE FOR ORDER BY": the page is read in index order and stops at the limit,
    however many conversations the tab holds (950,000 resolved at 1,000,000 took 180 ms sorted)."""
    if db_of(app).engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plans; PostgreSQL's are in bench/README.md")
    for i in range(3):
        make_conversation(app, inbox, email=f"p{i}@example.com")
    with db_of(app).engine.begin() as conn:
        conn.execute(text("ANALYZE"))  # statistics for some indexes only is what misled the planner
    for status in ("open", "resolved"):
        for sort in SORTS:
            for statement, parameters in _page(app, agent_client,
                                               f"/console?view=all&status={status}&sort={sort}"):
                if not re.match(r"SELECT conversations\.id, conversations\.public_id", statement):
                    continue
                if "JOIN conversation_sla" in statement:
                    continue  # the due sort's first part: only the conversations with a due time
                with db_of(app).engine.connect() as conn:
                    plan = " / ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                          parameters))
                assert "ORDER BY" not in plan, (status, sort, plan)


def test_the_all_views_tabs_walk_the_status_index_on_postgresql(app: Flask, agent_client: FlaskClient,
                                                                inbox: Inbox, agent: Agent) -> None:
    """PostgreSQL, told `status = 'resolved'`, walked the activity index of every status and
    filtered: past all the live conversations (the newest 50,000 at 1,000,000) before the first
    resolved one, 14 ms. The tab is asked as a range the (status, last_activity_at) index serves.
    And the unassigned view's open tab is walked in order, not read whole in a bitmap and sorted
    (the planner took "unassigned" and "open" for independent: 500 rows expected, 12,000 there)."""
    if db_of(app).engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner (SQLite's plans: the test above)")
    first = make_conversation(app, inbox, email="s0@example.com")
    # A shop's shape: 20,000 resolved, all assigned, then its live work, the newest 1,000, open, a
    # third of it unassigned (rows straight in: the planner's choice is what is tested, and it
    # needs the statistics of many rows).
    with db_of(app).engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO conversations (public_id, ref, inbox_id, customer_id, channel, status, priority, subject, "
            "assignee_id, created_at, updated_at, last_activity_at, resolved_at, last_seq) "
            "SELECT 'cv_scale' || n, 'S' || n, :inbox, :customer, 'email', "
            "CASE WHEN n > 20000 THEN 'open' ELSE 'resolved' END, 'normal', 'bulk', "
            "CASE WHEN n > 20000 AND n % 3 = 0 THEN NULL ELSE :agent END, t, t, t, "
            "CASE WHEN n > 20000 THEN NULL ELSE t END, 0 "
            "FROM generate_series(1, 21000) AS n, LATERAL (SELECT now() - (21001 - n) * interval '1 minute' AS t) x"),
            {"inbox": inbox.id, "customer": first.customer_id, "agent": agent.id})
        conn.execute(text("ANALYZE conversations"))
    lists = [(s, p) for s, p in _page(app, agent_client, "/console?view=unassigned&status=open")
             if re.match(r"SELECT conversations\.id, conversations\.public_id", s)]
    assert lists
    with db_of(app).engine.connect() as conn:
        plan = " / ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + lists[0][0], lists[0][1]))
    assert "Bitmap Heap Scan" not in plan and "Index Scan Backward" in plan, plan
    for status in ("open", "resolved"):
        for sort in ("activity", "due"):
            lists = [(s, p) for s, p in _page(app, agent_client, f"/console?view=all&status={status}&sort={sort}")
                     if re.match(r"SELECT conversations\.id, conversations\.public_id", s)
                     and "JOIN conversation_sla" not in s]
            assert lists, (status, sort)
            for statement, parameters in lists:
                with db_of(app).engine.connect() as conn:
                    plan = " / ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
                assert "ix_conversations_status_activity" in plan, (status, sort, plan)
                assert "ix_conversations_activity " not in plan, (status, sort, plan)
