"""Automation rules: validation, order, loop prevention, the record on the conversation, idle
rules on a fake clock, and the dry run that changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of, runtime_of
from helpdesk.accounts.models import Agent, AuditEntry
from helpdesk.actors import SYSTEM, agent_actor
from helpdesk.db import utcnow
from helpdesk.jobs import Job
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Message
from helpdesk.tickets.rules.models import AutomationRule, RuleRun
from tests.factories import make_conversation, make_inbox


def rule(api: Any, **data: Any) -> dict[str, Any]:
    body = {"name": "Rule", "event": "conversation.created", "conditions": [], "actions": [], **data}
    response = api.post("/automation-rules", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def load(app: Flask, conv: Conversation) -> dict[str, Any]:
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        return {"tags": [t.name for t in c.tags], "priority": c.priority.value, "status": c.status.value,
                "assignee": c.assignee.email if c.assignee else None,
                "notes": [m.body_text for m in c.messages if m.private],
                "public": [(m.author_type.value, m.author_name, m.body_text) for m in c.messages if not m.private]}


def test_rule_tags_and_prioritises_new_conversations_and_records_it(app: Flask, admin_api: Any,
                                                                    drain: Callable[[], int]) -> None:
    rule(admin_api, name="VIP", conditions=[{"field": "customer.email", "op": "contains", "value": "@vip.example"}],
         actions=[{"type": "add_tag", "value": "VIP"}, {"type": "set_priority", "value": "urgent"}])
    inbox, _ = make_inbox(app, "Mail", "email", "help@shop.example")
    vip = make_conversation(app, inbox, email="bob@vip.example")
    plain = make_conversation(app, inbox, email="ann@example.com")
    assert load(app, vip)["tags"] == []  # not in the creating transaction: in the worker
    drain()
    seen = load(app, vip)
    assert seen["tags"] == ["vip"] and seen["priority"] == "urgent"
    assert seen["notes"] == ["Rule 'VIP' added tag vip; set priority to urgent"]
    assert load(app, plain)["tags"] == [] and load(app, plain)["notes"] == []
    with db_of(app).unit_of_work() as s:
        actors = {e.actor_name for e in s.scalars(select(AuditEntry).filter_by(action="conversation.update"))}
        assert actors == {"Rule 'VIP'"}


def test_rules_run_in_their_stated_order(app: Flask, admin_api: Any, drain: Callable[[], int]) -> None:
    rule(admin_api, name="second", position=2, actions=[{"type": "set_priority", "value": "low"}])
    rule(admin_api, name="first", position=1, actions=[{"type": "set_priority", "value": "high"}])
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    drain()
    assert load(app, conv)["priority"] == "low"  # first ran, then second overwrote it
    assert load(app, conv)["notes"] == ["Rule 'first' set priority to high", "Rule 'second' set priority to low"]


def test_a_rule_does_not_trigger_itself_in_a_loop(app: Flask, admin_api: Any, drain: Callable[[], int]) -> None:
    # Each run changes the conversation, which is a conversation.updated: without the guard,
    # these two would ping-pong forever.
    rule(admin_api, name="up", event="conversation.updated",
         conditions=[{"field": "priority", "op": "lt", "value": "urgent"}],
         actions=[{"type": "set_priority", "value": "urgent"}])
    rule(admin_api, name="down", event="conversation.updated",
         conditions=[{"field": "priority", "op": "is", "value": "urgent"}],
         actions=[{"type": "set_priority", "value": "low"}])
    inbox = make_inbox(app)[0]
    conv = make_conversation(app, inbox)
    with db_of(app).unit_of_work() as s:
        tickets.set_status(s, SYSTEM, s.get(Conversation, conv.id), "pending")
    ran = drain()
    assert ran < 10
    with db_of(app).unit_of_work() as s:
        runs = s.scalars(select(RuleRun).order_by(RuleRun.id)).all()
        assert len(runs) <= 2 and len({r.rule_id for r in runs}) == len(runs)
        assert s.scalar(select(func.count()).select_from(Job).where(Job.kind == "rules.run",
                                                                   Job.state == "queued")) == 0


def test_message_rules_see_the_body_and_reply_with_placeholders(app: Flask, admin_api: Any,
                                                               drain: Callable[[], int]) -> None:
    rule(admin_api, name="Refunds", event="message.created",
         conditions=[{"field": "body", "op": "contains", "value": "refund"},
                     {"field": "author", "op": "is", "value": "customer"}],
         actions=[{"type": "reply", "value": "Hi {{ customer.first_name }}, a refund takes 3 days."},
                  {"type": "note", "value": "Refund asked on #{{ conversation.ref }}"}])
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox, body="I want a REFUND please", name="Ann Lee")
    drain()
    seen = load(app, conv)
    assert ("system", "Rule 'Refunds'", "Hi Ann, a refund takes 3 days.") in seen["public"]
    assert f"Refund asked on #{conv.ref}" in seen["notes"]
    # The rule's own reply is a message.created too: it does not answer itself.
    assert len([p for p in seen["public"] if p[0] == "system"]) == 1


def test_assign_actions_take_an_agent_by_email_and_a_team(app: Flask, admin_api: Any, agent: Agent,
                                                         drain: Callable[[], int]) -> None:
    with db_of(app).unit_of_work() as s:
        team = tickets.create_team(s, SYSTEM, name="Billing")
        team_id = team.public_id
    rule(admin_api, name="route", actions=[{"type": "assign_agent", "value": agent.email},
                                           {"type": "assign_team", "value": team_id}])
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    drain()
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        assert c.assignee.email == agent.email and c.team.name == "Billing"


@pytest.mark.parametrize(("body", "code"), [
    ({"conditions": [{"field": "nope", "op": "is", "value": "x"}]}, "unknown_field"),
    ({"conditions": [{"field": "subject", "op": "gt", "value": "x"}]}, "unknown_op"),
    ({"conditions": [{"field": "order.total", "op": "gt", "value": "lots"}]}, "invalid_value"),
    ({"conditions": [{"field": "idle_hours", "op": "gt", "value": True}]}, "invalid_value"),
    ({"conditions": [{"field": "priority", "op": "is", "value": "asap"}]}, "invalid_value"),
    ({"actions": [{"type": "explode", "value": "x"}]}, "unknown_action"),
    ({"actions": [{"type": "set_status", "value": "snoozed"}]}, "invalid_value"),
    ({"actions": [{"type": "add_tag", "value": 5}]}, "invalid_value"),
    ({"actions": [{"type": "assign_agent", "value": "nobody@example.com"}]}, "invalid_value"),
    ({"actions": [{"type": "assign_agent", "value": 1}]}, "invalid_value"),  # row numbers are not ids
    ({"actions": [{"type": "webhook", "value": "ftp://example.com/x"}]}, "invalid_url"),
    ({"actions": [{"type": "webhook", "value": "http://127.0.0.1:8080/x"}]}, "private_address"),
    ({"actions": [{"type": "webhook", "value": "http://[::ffff:10.0.0.1]/x"}]}, "private_address"),
    ({"actions": [{"type": "webhook", "value": "http://169.254.169.254/latest"}]}, "private_address"),
    ({"actions": []}, "invalid_actions"),
    ({"event": "conversation.deleted"}, "unknown_event"),
    ({"colour": "red"}, "invalid_colour"),
])
def test_bad_rules_are_a_422_and_nothing_is_stored(app: Flask, admin_api: Any, body: dict[str, Any],
                                                   code: str) -> None:
    data = {"name": "Bad", "event": "conversation.created", "conditions": [],
            "actions": [{"type": "add_tag", "value": "x"}], **body}
    response = admin_api.post("/automation-rules", json=data)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == code
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(AutomationRule)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action.like("automation_rule.%"))) == 0


def test_only_admins_manage_rules(agent_api: Any) -> None:
    response = agent_api.post("/automation-rules", json={"name": "x", "event": "conversation.created",
                                                         "actions": [{"type": "add_tag", "value": "x"}]})
    assert response.status_code == 403
    assert agent_api.get("/automation-rules").status_code == 403


def test_rule_crud_is_audited(app: Flask, admin_api: Any) -> None:
    created = rule(admin_api, actions=[{"type": "add_tag", "value": "a"}])
    patched = admin_api.patch(f"/automation-rules/{created['id']}", json={"active": False, "name": "Renamed"})
    assert patched.status_code == 200 and patched.get_json()["active"] is False
    assert admin_api.get(f"/automation-rules/{created['id']}").get_json()["name"] == "Renamed"
    assert admin_api.patch(f"/automation-rules/{created['id']}",
                           json={"actions": [{"type": "bogus", "value": 1}]}).status_code == 422
    assert admin_api.get(f"/automation-rules/{created['id']}").get_json()["actions"] == [
        {"type": "add_tag", "value": "a"}]
    assert admin_api.delete(f"/automation-rules/{created['id']}").status_code == 204
    with db_of(app).unit_of_work() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.target_id == created["id"])
                                                .order_by(AuditEntry.id))]
    assert actions == ["automation_rule.create", "automation_rule.update", "automation_rule.delete"]


def test_inactive_rules_do_not_run(app: Flask, admin_api: Any, drain: Callable[[], int]) -> None:
    rule(admin_api, active=False, actions=[{"type": "add_tag", "value": "x"}])
    conv = make_conversation(app, make_inbox(app)[0])
    drain()
    assert load(app, conv)["tags"] == []


def test_idle_rule_fires_once_per_quiet_spell_on_a_fake_clock(app: Flask, admin_api: Any, agent: Agent) -> None:
    from helpdesk.tickets.rules import engine

    rule(admin_api, name="Nudge", event="conversation.idle",
         conditions=[{"field": "idle_hours", "op": "gt", "value": 24},
                     {"field": "status", "op": "is", "value": "open"}],
         actions=[{"type": "add_tag", "value": "stale"}, {"type": "set_status", "value": "pending"}])
    conv = make_conversation(app, make_inbox(app)[0])
    runtime = runtime_of(app)
    start = utcnow()
    runtime.clock = lambda: start + timedelta(hours=23)
    engine.idle_job(runtime.context(), {})
    assert load(app, conv)["tags"] == []
    runtime.clock = lambda: start + timedelta(hours=25)
    engine.idle_job(runtime.context(), {})
    assert load(app, conv)["tags"] == ["stale"] and load(app, conv)["status"] == "pending"
    with db_of(app).unit_of_work() as s:  # back to open by hand, still quiet: not fired again
        tickets.set_status(s, agent_actor(s.get(Agent, agent.id)), s.get(Conversation, conv.id), "open")
    runtime.clock = lambda: start + timedelta(hours=30)
    engine.idle_job(runtime.context(), {})
    assert load(app, conv)["status"] == "open"
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(RuleRun)) == 1
    with db_of(app).unit_of_work() as s:  # someone writes at hour 31: a new quiet spell starts
        c = s.get(Conversation, conv.id)
        tickets.post_message(s, agent_actor(s.get(Agent, agent.id)), c, body="Any news?")
        c.last_activity_at = start + timedelta(hours=31)  # on the fake clock's time line
    runtime.clock = lambda: start + timedelta(hours=50)
    engine.idle_job(runtime.context(), {})
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(RuleRun)) == 1  # 19 quiet hours: not yet
    runtime.clock = lambda: start + timedelta(hours=56)
    engine.idle_job(runtime.context(), {})
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(RuleRun)) == 2


def test_the_idle_check_is_a_periodic_worker_job(app: Flask) -> None:
    assert "rules.idle" in runtime_of(app).jobs.every


def test_dry_run_shows_matches_and_changes_nothing(app: Flask, admin_api: Any) -> None:
    inbox, _ = make_inbox(app)
    hit = make_conversation(app, inbox, subject="Refund for order 1001")
    make_conversation(app, inbox, subject="Shipping question", email="bo@example.com")
    with db_of(app).unit_of_work() as s:
        before = (s.scalar(select(func.count()).select_from(Job)), s.scalar(select(func.count()).select_from(Message)),
                  s.scalar(select(func.count()).select_from(AuditEntry)))
    response = admin_api.post("/automation-rules/dry-run", json={
        "event": "conversation.created", "conditions": [{"field": "subject", "op": "contains", "value": "refund"}],
        "actions": [{"type": "add_tag", "value": "refund"}, {"type": "reply", "value": "On it"}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert [h["conversation"]["id"] for h in body["data"]] == [hit.public_id]
    assert body["data"][0]["would"] == ["added tag refund", "replied to the customer"]
    with db_of(app).unit_of_work() as s:
        after = (s.scalar(select(func.count()).select_from(Job)), s.scalar(select(func.count()).select_from(Message)),
                 s.scalar(select(func.count()).select_from(AuditEntry)))
    assert after == before and load(app, hit)["tags"] == []


def test_a_rule_reply_on_an_email_conversation_is_sent_but_its_event_line_is_not(
        app: Flask, admin_api: Any, drain: Callable[[], int]) -> None:
    rule(admin_api, name="Ack", actions=[{"type": "reply", "value": "Thanks {{ customer.first_name }}!"}])
    inbox, _ = make_inbox(app, "Mail", "email", "help@shop.example")
    conv = make_conversation(app, inbox, name="Ann Lee")
    drain()
    with db_of(app).unit_of_work() as s:
        messages = s.scalars(select(Message).where(Message.conversation_id == conv.id,
                                                   Message.author_type == "system")).all()
        reply = next(m for m in messages if not m.private)
        line = next(m for m in messages if m.private)
        assert reply.body_text == "Thanks Ann!" and reply.meta.get("outbound_planned") and reply.email_message_id
        assert not line.meta.get("outbound_planned") and line.email_message_id is None
        assert s.get(Conversation, conv.id).first_response_at is None  # an auto-reply is no first response


def test_a_rules_job_delivered_twice_acts_once(app: Flask, admin_api: Any) -> None:
    from helpdesk.runtime import JobInfo
    from helpdesk.tickets.rules import engine

    rule(admin_api, name="Ack", actions=[{"type": "reply", "value": "Got it"}])
    conv = make_conversation(app, make_inbox(app)[0])
    runtime = runtime_of(app)
    with db_of(app).unit_of_work() as s:
        job = s.scalar(select(Job).filter_by(kind="rules.run"))
        info, payload = JobInfo(job.id, job.kind, 1, 8, job.created_at), dict(job.payload)
    engine.run_job(runtime.context(info), payload)
    engine.run_job(runtime.context(info), payload)  # the lease ran out after the commit: again
    assert [p for p in load(app, conv)["public"] if p[0] == "system"] == [("system", "Rule 'Ack'", "Got it")]
