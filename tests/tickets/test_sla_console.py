"""The console's side of service levels: the admin page's forms, the queue's badges and sort."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.db import utcnow
from helpdesk.runtime import runtime_of
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation
from helpdesk.tickets.sla import services as sla
from helpdesk.tickets.sla import sweep_job
from helpdesk.tickets.sla.models import BusinessHours, ConversationSla, SlaPolicy
from tests.conftest import csrf_token
from tests.factories import make_conversation, make_inbox


def test_an_admin_builds_business_hours_and_a_policy_with_forms(app: Flask, admin_client: FlaskClient) -> None:
    inbox = make_inbox(app)[0]
    page = admin_client.get("/admin/service-levels")
    assert page.status_code == 200 and "New business hours" in page.get_data(as_text=True)
    token = csrf_token(admin_client, "/admin/service-levels")
    r = admin_client.post("/admin/service-levels/business-hours", data={
        "csrf_token": token, "name": "Berlin office", "timezone": "Europe/Berlin",
        "mon_1_from": "09:00", "mon_1_to": "12:00", "mon_2_from": "13:00", "mon_2_to": "17:00",
        "fri_1_from": "09:00", "fri_1_to": "24:00", "holidays": "2026-12-25\n2026-12-26"})
    assert r.status_code == 303
    with db_of(app).unit_of_work() as s:
        hours = s.scalar(select(BusinessHours))
        assert hours.hours == {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "fri": [["09:00", "24:00"]]}
        assert hours.holidays == ["2026-12-25", "2026-12-26"]
        hours_id = hours.public_id
    r = admin_client.post("/admin/service-levels/policies", data={
        "csrf_token": token, "name": "Urgent chats", "business_hours": hours_id, "inbox": inbox.public_id,
        "channel": "chat", "priority": ["high", "urgent"], "tags": "vip, Refund",
        "first_response_minutes": "15", "next_response_minutes": "", "resolution_minutes": "240"})
    assert r.status_code == 303
    with db_of(app).unit_of_work() as s:
        policy = s.scalar(select(SlaPolicy))
        assert policy.match == {"inbox": inbox.public_id, "channel": "chat", "priority": ["high", "urgent"],
                                "tags": ["refund", "vip"]}
        assert (policy.first_response_minutes, policy.next_response_minutes, policy.resolution_minutes) == \
            (15, None, 240)
    html = admin_client.get("/admin/service-levels").get_data(as_text=True)
    assert "Urgent chats" in html and "Berlin office" in html and "priority high or urgent" in html
    assert "<script>" not in html  # CSP: no inline scripts


def test_impossible_hours_on_the_form_flash_an_error_and_store_nothing(app: Flask,
                                                                       admin_client: FlaskClient) -> None:
    token = csrf_token(admin_client, "/admin/service-levels")
    r = admin_client.post("/admin/service-levels/business-hours", data={
        "csrf_token": token, "name": "Broken", "timezone": "Europe/Berlin",
        "mon_1_from": "09:00", "mon_1_to": "17:00", "mon_2_from": "16:00", "mon_2_to": "18:00"},
        follow_redirects=True)
    assert "intervals overlap" in r.get_data(as_text=True)
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(BusinessHours)) is None


def test_agents_do_not_see_the_admin_page(agent_client: FlaskClient) -> None:
    assert agent_client.get("/admin/service-levels").status_code in (302, 403)


def _due_badges(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-conversation="(cv_[^"]+)".*?<span class="sla sla-(\w+)"[^>]*>([^<]+)<', html, re.S)


def test_the_queue_shows_countdowns_marks_breaches_and_sorts_by_due(app: Flask, agent_client: FlaskClient,
                                                                      agent: Agent) -> None:
    inbox = make_inbox(app)[0]
    with db_of(app).unit_of_work() as s:
        sla.create_policy(s, SYSTEM, {"name": "Urgent", "match": {"priority": "urgent"},
                                      "targets": {"first_response_minutes": 30}})
        sla.create_policy(s, SYSTEM, {"name": "Normal", "targets": {"first_response_minutes": 80}})
    slow = make_conversation(app, inbox, email="slow@example.com")
    fast = make_conversation(app, inbox, email="fast@example.com")
    late = make_conversation(app, inbox, email="late@example.com")
    none = make_conversation(app, inbox, email="none@example.com")
    with db_of(app).unit_of_work() as s:
        tickets.set_priority(s, SYSTEM, s.get(Conversation, fast.id), "urgent")
        # "late" was created three hours ago: its first response is overdue.
        c = s.get(Conversation, late.id)
        c.created_at -= timedelta(hours=3)
        sla.apply(s, c, c.created_at)
        s.delete(s.scalar(select(ConversationSla).filter_by(conversation_id=none.id)))
    runtime = runtime_of(app)
    sweep_job(runtime.context(), {})

    html = agent_client.get("/console?view=all&sort=due").get_data(as_text=True)
    rows = re.findall(r'data-conversation="(cv_[^"]+)"', html)
    assert rows.index(late.public_id) < rows.index(fast.public_id) < rows.index(slow.public_id) \
        < rows.index(none.public_id)
    badges = {cid: (css, text) for cid, css, text in _due_badges(html)}
    assert badges[late.public_id][0] == "breached" and badges[late.public_id][1].startswith("overdue")
    assert badges[fast.public_id][0] == "soon" and re.fullmatch(r"due in 2\dm", badges[fast.public_id][1])
    assert badges[slow.public_id][0] == "ok" and badges[slow.public_id][1].startswith("due in 1h")
    assert none.public_id not in badges
    assert 'data-sort="due"' in html and "sla.js" in html

    # Page 1 of 2 by due time, then the rest, in order and without repeats.
    first = agent_client.get("/console?view=all&sort=due&limit=2").get_data(as_text=True)
    more = re.search(r'href="([^"]*cursor=[^"]+)"', first).group(1).replace("&amp;", "&")
    second = agent_client.get(more).get_data(as_text=True)
    ids = re.findall(r'data-conversation="(cv_[^"]+)"', first) + re.findall(r'data-conversation="(cv_[^"]+)"',
                                                                           second)
    assert ids == rows


def test_the_queue_marks_a_breached_but_met_conversation(app: Flask, agent_client: FlaskClient,
                                                         agent: Agent) -> None:
    from helpdesk.actors import agent_actor

    inbox = make_inbox(app)[0]
    with db_of(app).unit_of_work() as s:
        sla.create_policy(s, SYSTEM, {"name": "Normal", "targets": {"first_response_minutes": 10}})
    conv = make_conversation(app, inbox)
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        c.created_at -= timedelta(hours=1)
        sla.apply(s, c, c.created_at)
        tickets.post_message(s, agent_actor(s.get(Agent, agent.id)), c, body="late")
    html = agent_client.get("/console?view=all").get_data(as_text=True)
    assert [(css, text) for _c, css, text in _due_badges(html)] == [("breached", "SLA breached")]


def test_the_conversation_page_shows_its_policy_due_times_and_breaches(app: Flask, agent_client: FlaskClient,
                                                                       agent: Agent) -> None:
    inbox = make_inbox(app)[0]
    with db_of(app).unit_of_work() as s:
        sla.create_policy(s, SYSTEM, {"name": "Gold", "targets": {"first_response_minutes": 10,
                                                                  "resolution_minutes": 600}})
    conv = make_conversation(app, inbox)
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        c.created_at -= timedelta(hours=1)
        sla.apply(s, c, c.created_at)
    sweep_job(runtime_of(app).context(), {})
    html = agent_client.get(f"/console/c/{conv.public_id}").get_data(as_text=True)
    panel = html[html.index('id="sla-panel"'):]
    panel = panel[:panel.index("</section>")]
    assert "Gold" in panel and "First response: due" in panel and "Resolution: due" in panel
    assert 'class="sla sla-breached">breached<' in panel and "overdue" in panel


def test_the_resolved_tab_sorted_by_sla_due_is_in_activity_order(app: Flask, agent_client: FlaskClient) -> None:
    # Resolving stops every clock, so the Resolved tab has no due part (walking every live due time
    # to find none was the slowest queue page at 1,000,000 conversations); a stale due time left on
    # a resolved conversation neither hides it nor puts it first.
    inbox = make_inbox(app)[0]
    with db_of(app).unit_of_work() as s:
        sla.create_policy(s, SYSTEM, {"name": "Normal", "targets": {"first_response_minutes": 10}})
    convs = [make_conversation(app, inbox, email=f"r{i}@example.com") for i in range(3)]
    with db_of(app).unit_of_work() as s:
        for c in convs:
            tickets.set_status(s, SYSTEM, s.get(Conversation, c.id), "resolved")
    with db_of(app).unit_of_work() as s:
        # A due time left behind (e.g. resolved while no policy was configured to recompute it).
        s.execute(update(ConversationSla).where(ConversationSla.conversation_id == convs[0].id)
                  .values(next_due_at=utcnow() - timedelta(hours=1)))
        assert s.scalar(select(ConversationSla.next_due_at).filter_by(conversation_id=convs[0].id)) is not None
    by_activity = re.findall(r'data-conversation="(cv_[^"]+)"',
                             agent_client.get("/console?view=all&status=resolved").get_data(as_text=True))
    html = agent_client.get("/console?view=all&status=resolved&sort=due&limit=2").get_data(as_text=True)
    first = re.findall(r'data-conversation="(cv_[^"]+)"', html)
    more = re.search(r'href="([^"]*cursor=[^"]+)"', html).group(1).replace("&amp;", "&")
    second = re.findall(r'data-conversation="(cv_[^"]+)"', agent_client.get(more).get_data(as_text=True))
    assert first + second == by_activity and sorted(by_activity) == sorted(c.public_id for c in convs)
