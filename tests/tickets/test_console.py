"""The console pages render real data: queue filters, tabs, paging, empty states, conversation page."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.tickets import services
from helpdesk.tickets.models import Conversation
from tests.conftest import csrf_token
from tests.factories import make_conversation, make_inbox


def row_ids(html: str) -> list[str]:
    return re.findall(r'data-conversation="(cv_[\w-]+)"', html)


def test_queue_needs_a_login(client: FlaskClient) -> None:
    response = client.get("/console")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_empty_queue_says_so(agent_client: FlaskClient) -> None:
    html = agent_client.get("/console?view=all").get_data(as_text=True)
    assert "Inbox zero" in html and row_ids(html) == []


def test_queue_filters_mine_unassigned_and_all(app: Flask, agent_client: FlaskClient, agent: Agent) -> None:
    inbox, _ = make_inbox(app)
    mine = make_conversation(app, inbox, email="a@example.com")
    other = make_conversation(app, inbox, email="b@example.com")
    with db_of(app).unit_of_work() as s:
        services.assign(s, SYSTEM, s.get(Conversation, mine.id), s.get(Agent, agent.id))
    assert row_ids(agent_client.get("/console?view=mine").get_data(as_text=True)) == [mine.public_id]
    assert row_ids(agent_client.get("/console?view=unassigned").get_data(as_text=True)) == [other.public_id]
    assert set(row_ids(agent_client.get("/console?view=all").get_data(as_text=True))) == {mine.public_id,
                                                                                         other.public_id}


def test_status_tabs_sort_by_last_activity_and_page(app: Flask, agent_client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    convs = [make_conversation(app, inbox, email=f"c{i}@example.com") for i in range(4)]
    with db_of(app).unit_of_work() as s:
        services.set_status(s, SYSTEM, s.get(Conversation, convs[0].id), "pending")
        services.post_message(s, SYSTEM, s.get(Conversation, convs[1].id), body="bump")  # most recent activity
    html = agent_client.get("/console?view=all&status=open&limit=2").get_data(as_text=True)
    assert row_ids(html) == [convs[1].public_id, convs[3].public_id]
    cursor = re.search(r'cursor=([\w-]+)', html).group(1)
    older = agent_client.get(f"/console?view=all&status=open&limit=2&cursor={cursor}").get_data(as_text=True)
    assert row_ids(older) == [convs[2].public_id]
    assert row_ids(agent_client.get("/console?view=all&status=pending").get_data(as_text=True)) == [convs[0].public_id]


def test_search_finds_by_customer_email_and_ref(app: Flask, agent_client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    ann = make_conversation(app, inbox, email="ann@example.com")
    make_conversation(app, inbox, email="bob@example.com")
    assert row_ids(agent_client.get("/console?view=all&q=ann@").get_data(as_text=True)) == [ann.public_id]
    assert row_ids(agent_client.get(f"/console?view=all&q=%23{ann.ref}").get_data(as_text=True)) == [ann.public_id]


def test_conversation_page_shows_thread_sidebar_and_controls(app: Flask, agent_client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox, email="ann@example.com", body="<script>alert(1)</script> where is it?",
                             name="Ann Lee")
    html = agent_client.get(f"/console/c/{conv.public_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    for control in ['name="assignee"', 'name="status"', 'name="priority"', 'name="tags"', 'id="reply"']:
        assert control in html
    assert "Ann Lee" in html and "ann@example.com" in html


def test_reply_and_note_from_the_console(app: Flask, agent_client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    token = csrf_token(agent_client, f"/console/c/{conv.public_id}")
    agent_client.post(f"/console/c/{conv.public_id}/reply", data={"csrf_token": token, "body": "Shipped today",
                                                                  "private": "0", "client_msg_id": "k1"})
    agent_client.post(f"/console/c/{conv.public_id}/reply", data={"csrf_token": token, "body": "Shipped today",
                                                                  "private": "0", "client_msg_id": "k1"})
    agent_client.post(f"/console/c/{conv.public_id}/reply", data={"csrf_token": token, "body": "Check stock",
                                                                  "private": "1"})
    with db_of(app).unit_of_work() as s:
        messages = s.get(Conversation, conv.id).messages
        assert [(m.body_text, m.private) for m in messages[1:]] == [("Shipped today", False), ("Check stock", True)]


def test_console_controls_change_status_assignee_priority_and_tags(app: Flask, agent_client: FlaskClient,
                                                                   agent: Agent) -> None:
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    url = f"/console/c/{conv.public_id}"
    token = csrf_token(agent_client, url)
    agent_client.post(f"{url}/assign", data={"csrf_token": token, "assignee": "me"})
    agent_client.post(f"{url}/priority", data={"csrf_token": token, "priority": "high"})
    agent_client.post(f"{url}/tags", data={"csrf_token": token, "tags": "refund, vip"})
    agent_client.post(f"{url}/status", data={"csrf_token": token, "status": "resolved"})
    bad = agent_client.post(f"{url}/status", data={"csrf_token": token, "status": "exploded"}, follow_redirects=True)
    assert "one of open, pending, snoozed, resolved" in bad.get_data(as_text=True)
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        assert (c.assignee_id, c.priority.value, [t.name for t in c.tags], c.status.value) == (
            agent.id, "high", ["refund", "vip"], "resolved")


def test_unknown_conversation_is_a_404_page(agent_client: FlaskClient) -> None:
    response = agent_client.get("/console/c/cv_missing")
    assert response.status_code == 404 and "Nothing here" in response.get_data(as_text=True)


def test_snooze_from_the_console_for_a_chosen_time(app: Flask, agent_client: FlaskClient) -> None:
    from helpdesk.db import utcnow

    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    url = f"/console/c/{conv.public_id}"
    token = csrf_token(agent_client, url)
    assert agent_client.post(f"{url}/status", data={"csrf_token": token, "status": "snoozed",
                                                    "snooze_for": "forever"}).status_code == 400
    agent_client.post(f"{url}/status", data={"csrf_token": token, "status": "snoozed", "snooze_for": "4h"})
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        assert c.status.value == "snoozed"
        assert 3.9 * 3600 < (c.snoozed_until - utcnow()).total_seconds() <= 4 * 3600
    assert "until" in agent_client.get(url).get_data(as_text=True)


def test_snooze_until_a_picked_time_reads_as_a_date_and_can_be_undone(app: Flask, agent_client: FlaskClient) -> None:
    from datetime import timedelta

    from helpdesk.db import utcnow

    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    url = f"/console/c/{conv.public_id}"
    token = csrf_token(agent_client, url)
    page = agent_client.get(url).get_data(as_text=True)
    assert 'type="datetime-local" name="snooze_until"' in page
    picked = (utcnow() + timedelta(days=2)).replace(hour=9, minute=30, second=0, microsecond=0)
    # Bad input: a clear message, nothing changed.
    for bad in ({"snooze_until": "next tuesday"}, {"snooze_until": "2001-01-01T09:00"},
                {"snooze_until": picked.strftime("%Y-%m-%dT%H:%M"), "tz_offset": "99999"},
                {"snooze_until": (utcnow() + timedelta(days=800)).strftime("%Y-%m-%dT%H:%M")}):
        got = agent_client.post(f"{url}/status", data={"csrf_token": token, "status": "snoozed", **bad},
                                follow_redirects=True).get_data(as_text=True)
        assert "flash-error" in got
        with db_of(app).unit_of_work() as s:
            assert s.get(Conversation, conv.id).status.value == "open"
    # Berlin in winter is UTC+1: the browser sends getTimezoneOffset() = -60; 10:30 local is 09:30 UTC.
    local = (picked + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    done = agent_client.post(f"{url}/status", data={"csrf_token": token, "status": "snoozed",
                                                    "snooze_until": local, "tz_offset": "-60"}, follow_redirects=True)
    html = done.get_data(as_text=True)
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        assert c.status.value == "snoozed" and c.snoozed_until == picked
    assert f"Snoozed until <time datetime=\"{picked.isoformat()}\"" in html
    assert "Thu, Dec 3, 2026, 09:30 UTC" in html and "in 2 days" not in html
    assert 'id="unsnooze"' in html
    agent_client.post(f"{url}/status", data={"csrf_token": token, "status": "open"})
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        assert c.status.value == "open" and c.snoozed_until is None
    assert "Snoozed until" not in agent_client.get(url).get_data(as_text=True)


def test_bulk_actions_apply_to_every_ticked_conversation(app: Flask, agent_client: FlaskClient, agent: Agent) -> None:
    inbox, _ = make_inbox(app)
    convs = [make_conversation(app, inbox, email=f"c{i}@example.com") for i in range(3)]
    token = csrf_token(agent_client, "/console?view=all")
    picked = [convs[0].public_id, convs[2].public_id]
    agent_client.post("/console/bulk", data={"csrf_token": token, "action": "assign_me", "ids": picked})
    agent_client.post("/console/bulk", data={"csrf_token": token, "action": "resolved", "ids": picked})
    with db_of(app).unit_of_work() as s:
        state = {c.public_id: (s.get(Conversation, c.id).assignee_id, s.get(Conversation, c.id).status.value)
                 for c in convs}
    assert state == {convs[0].public_id: (agent.id, "resolved"), convs[1].public_id: (None, "open"),
                     convs[2].public_id: (agent.id, "resolved")}


def test_bulk_with_an_unknown_conversation_changes_nothing(app: Flask, agent_client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    token = csrf_token(agent_client, "/console?view=all")
    response = agent_client.post("/console/bulk", data={"csrf_token": token, "action": "resolved",
                                                        "ids": [conv.public_id, "cv_nope"]}, follow_redirects=True)
    assert "no such conversation" in response.get_data(as_text=True)
    assert agent_client.post("/console/bulk", data={"csrf_token": token, "action": "delete_all",
                                                    "ids": [conv.public_id]}).status_code == 400
    with db_of(app).unit_of_work() as s:
        assert s.get(Conversation, conv.id).status.value == "open"


def test_queue_rows_show_the_last_message_and_waiting_time_and_sort_four_ways(
        app: Flask, agent_client: FlaskClient, agent: Agent) -> None:
    from datetime import timedelta

    from helpdesk.actors import agent_actor, customer_actor
    from helpdesk.db import utcnow

    inbox, _ = make_inbox(app)
    convs = [make_conversation(app, inbox, email=f"s{i}@example.com") for i in range(4)]
    now = utcnow()
    with db_of(app).unit_of_work() as s:
        rows = [s.get(Conversation, c.id) for c in convs]
        for i, c in enumerate(rows):
            c.created_at = now - timedelta(hours=10 - i)       # 0 oldest ... 3 newest
            c.last_activity_at = now - timedelta(hours=1 + (i * 7) % 4)  # 1, 4, 3, 2 h ago
        services.post_message(s, customer_actor(rows[0].customer), rows[0], body="Where   is\nmy parcel?")
        rows[0].last_activity_at = now - timedelta(hours=1)
        s.flush()
        services.post_message(s, agent_actor(s.get(Agent, agent.id)), rows[1], body="It left today.")
        services.post_message(s, agent_actor(s.get(Agent, agent.id)), rows[1], body="secret", private=True)
        rows[1].last_activity_at = now - timedelta(hours=4)
        services.set_priority(s, SYSTEM, rows[2], "urgent")
        services.set_priority(s, SYSTEM, rows[3], "high")
    ids = [c.public_id for c in convs]
    html = agent_client.get("/console?view=all").get_data(as_text=True)
    assert "Where is my parcel?" in html and "It left today." in html and "secret" not in html
    assert re.search(r"data-waiting[^>]*>waiting (&lt;1|\d+) (min|h)<", html)  # the customer wrote last
    sorted_ids = {sort: row_ids(agent_client.get(f"/console?view=all&sort={sort}").get_data(as_text=True))
                  for sort in ("newest", "oldest", "waiting", "priority")}
    assert sorted_ids["newest"] == ids[::-1]
    assert sorted_ids["oldest"] == ids
    assert sorted_ids["waiting"][0] == ids[1]          # untouched for 4 hours
    assert sorted_ids["priority"][:2] == [ids[2], ids[3]]  # urgent, then high
    # Paging keeps the order; a cursor of another sort is refused clearly.
    first = agent_client.get("/console?view=all&sort=oldest&limit=2").get_data(as_text=True)
    cursor = re.search(r"cursor=([\w-]+)", first).group(1)
    second = agent_client.get(f"/console?view=all&sort=oldest&limit=2&cursor={cursor}").get_data(as_text=True)
    assert row_ids(first) + row_ids(second) == ids
    assert agent_client.get(f"/console?view=all&sort=newest&limit=2&cursor={cursor}").status_code in (400, 422)
    # Priority pages one priority at a time (an index range each): a page of one row crosses them.
    seen, url = [], "/console?view=all&sort=priority&limit=1"
    for _ in range(4):
        html = agent_client.get(url).get_data(as_text=True)
        seen += row_ids(html)
        if found := re.search(r"cursor=([\w-]+)", html):
            url = f"/console?view=all&sort=priority&limit=1&cursor={found.group(1)}"
    assert seen == [ids[2], ids[3], ids[0], ids[1]]  # urgent, high, then normal by latest activity
