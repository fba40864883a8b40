"""SLA policies on conversations: matching, due times, pauses, breaches, audit; the worker's
sweep runs on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of, events
from helpdesk.accounts.models import Agent, AuditEntry
from helpdesk.actors import SYSTEM, agent_actor, customer_actor
from helpdesk.runtime import runtime_of
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Inbox
from helpdesk.tickets.sla import services as sla
from helpdesk.tickets.sla import sweep_job
from helpdesk.tickets.sla.models import ConversationSla, SlaBreach
from tests.factories import make_conversation, make_inbox

BERLIN_WEEK = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def inbox(app: Flask) -> Inbox:
    return make_inbox(app)[0]


def policy(app: Flask, **data: Any) -> str:
    data.setdefault("targets", {"first_response_minutes": 60, "next_response_minutes": 30,
                                "resolution_minutes": 600})
    with db_of(app).unit_of_work() as s:
        return sla.create_policy(s, SYSTEM, data).public_id


def state(app: Flask, conv: Conversation) -> ConversationSla | None:
    with db_of(app).unit_of_work() as s:
        row = s.scalar(select(ConversationSla).filter_by(conversation_id=conv.id))
        if row is not None:
            _ = (row.policy, row.breaches)
            s.expunge_all()
        return row


def test_a_conversation_gets_the_first_matching_policy_and_follows_priority_changes(app: Flask,
                                                                                       inbox: Inbox) -> None:
    policy(app, name="Urgent", match={"priority": ["urgent"]},
           targets={"first_response_minutes": 15})
    policy(app, name="Everything else", targets={"first_response_minutes": 240})
    conv = make_conversation(app, inbox)
    st = state(app, conv)
    assert st.policy.name == "Everything else"
    assert st.first_response_due_at == conv.created_at + timedelta(minutes=240)

    with db_of(app).unit_of_work() as s:
        tickets.set_priority(s, SYSTEM, s.get(Conversation, conv.id), "urgent")
    st = state(app, conv)
    assert st.policy.name == "Urgent"
    assert st.first_response_due_at == conv.created_at + timedelta(minutes=15)
    assert st.resolution_due_at is None


def test_tags_and_inbox_decide_the_match_and_no_match_means_no_sla(app: Flask, inbox: Inbox) -> None:
    other = make_inbox(app, "Other chat")[0]
    policy(app, name="VIP", match={"tags": ["vip"], "inbox": inbox.public_id})
    conv = make_conversation(app, inbox)
    assert state(app, conv) is None
    assert state(app, make_conversation(app, other, email="bob@example.com")) is None
    with db_of(app).unit_of_work() as s:
        tickets.set_tags(s, SYSTEM, s.get(Conversation, conv.id), ["vip", "refund"])
    assert state(app, conv).policy.name == "VIP"
    with db_of(app).unit_of_work() as s:
        tickets.set_tags(s, SYSTEM, s.get(Conversation, conv.id), ["refund"])
    st = state(app, conv)
    assert st.policy is None and st.first_response_due_at is None and st.next_due_at is None


def test_due_times_count_business_hours_only(app: Flask, inbox: Inbox) -> None:
    with db_of(app).unit_of_work() as s:
        hours = sla.create_business_hours(s, SYSTEM, name="Berlin office", timezone="Europe/Berlin",
                                          hours=BERLIN_WEEK, holidays=["2026-12-25"])
        hours_id = hours.public_id
    policy(app, name="Office", business_hours=hours_id,
           targets={"first_response_minutes": 120, "resolution_minutes": 8 * 60})
    conv = make_conversation(app, inbox)
    # Thursday 24 Dec 2026, 16:00 Berlin (15:00 UTC): one hour today, Friday is a holiday.
    created = datetime(2026, 12, 24, 15, 0, tzinfo=UTC)
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        c.created_at = created
        sla.apply(s, c, created)
    st = state(app, conv)
    assert st.first_response_due_at == datetime(2026, 12, 28, 9, 0, tzinfo=UTC)   # Mon 10:00 Berlin
    assert st.resolution_due_at == datetime(2026, 12, 28, 15, 0, tzinfo=UTC)      # Mon 16:00 Berlin


def test_first_reply_meets_the_first_response_and_a_customer_message_starts_next_response(
        app: Flask, inbox: Inbox, agent: Agent) -> None:
    policy(app, name="Default")
    conv = make_conversation(app, inbox)
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        tickets.post_message(s, agent_actor(s.get(Agent, agent.id)), c, body="On it")
    st = state(app, conv)
    assert st.breaches == [] and st.next_response_due_at is None
    assert st.next_due_at == st.resolution_due_at  # first response met: resolution runs on
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        msg = tickets.post_message(s, customer_actor(c.customer), c, body="Any news?")
        asked = msg.created_at
    st = state(app, conv)
    assert st.next_response_due_at == asked + timedelta(minutes=30)
    assert st.next_due_at == st.next_response_due_at
    with db_of(app).unit_of_work() as s:
        tickets.post_message(s, agent_actor(s.get(Agent, agent.id)), s.get(Conversation, conv.id), body="Yes")
    assert state(app, conv).next_response_due_at is None


def test_a_late_first_reply_is_a_breach_with_its_due_time(app: Flask, inbox: Inbox, agent: Agent) -> None:
    policy(app, name="Default")
    conv = make_conversation(app, inbox)
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        c.created_at = c.created_at - timedelta(hours=2)
        sla.apply(s, c, c.created_at)
        tickets.post_message(s, agent_actor(s.get(Agent, agent.id)), c, body="Sorry for the wait")
    st = state(app, conv)
    assert [(b.metric, b.due_at) for b in st.breaches] == [("first_response", st.first_response_due_at)]
    assert sla.breached_metrics(st) == ["first_response"]


def test_pending_pauses_the_clock_and_resuming_shifts_the_due_times(app: Flask, inbox: Inbox) -> None:
    runtime = runtime_of(app)
    policy(app, name="Default")
    conv = make_conversation(app, inbox)
    before = state(app, conv)
    t0 = conv.created_at + timedelta(minutes=10)
    runtime.clock = lambda: t0
    with db_of(app).unit_of_work() as s:
        tickets.set_status(s, SYSTEM, s.get(Conversation, conv.id), "pending")
    assert state(app, conv).paused_at == t0
    # Three hours later, long past the first-response due time: a paused clock never breaches.
    runtime.clock = lambda: t0 + timedelta(hours=3)
    sweep_job(runtime.context(), {})
    assert state(app, conv).breaches == []
    with db_of(app).unit_of_work() as s:
        tickets.set_status(s, SYSTEM, s.get(Conversation, conv.id), "open")
    st = state(app, conv)
    assert st.paused_at is None
    assert st.first_response_due_at == before.first_response_due_at + timedelta(hours=3)
    assert st.resolution_due_at == before.resolution_due_at + timedelta(hours=3)
    assert st.breaches == []


def test_the_worker_sweep_records_each_breach_once_on_a_fake_clock(app: Flask, inbox: Inbox) -> None:
    runtime = runtime_of(app)
    assert "sla.sweep" in runtime.jobs.every
    policy(app, name="Default")
    conv = make_conversation(app, inbox)
    st = state(app, conv)
    runtime.clock = lambda: st.first_response_due_at - timedelta(seconds=1)
    sweep_job(runtime.context(), {})
    assert state(app, conv).breaches == []
    runtime.clock = lambda: st.first_response_due_at + timedelta(minutes=1)
    sweep_job(runtime.context(), {})
    sweep_job(runtime.context(), {})
    after = state(app, conv)
    assert [b.metric for b in after.breaches] == ["first_response"]
    assert after.breaches[0].recorded_at == st.first_response_due_at + timedelta(minutes=1)
    # Still unmet, so still first in the queue; the sweep looks next at the resolution due time.
    assert after.next_due_at == st.first_response_due_at and after.check_at == st.resolution_due_at
    runtime.clock = lambda: st.resolution_due_at + timedelta(days=1)
    sweep_job(runtime.context(), {})
    with db_of(app).unit_of_work() as s:
        assert sorted(s.scalars(select(SlaBreach.metric))) == ["first_response", "resolution"]
    assert state(app, conv).check_at is None


def test_resolving_stops_the_clocks(app: Flask, inbox: Inbox) -> None:
    runtime = runtime_of(app)
    policy(app, name="Default")
    conv = make_conversation(app, inbox)
    with db_of(app).unit_of_work() as s:
        tickets.set_status(s, SYSTEM, s.get(Conversation, conv.id), "resolved")
    assert state(app, conv).next_due_at is None
    runtime.clock = lambda: conv.created_at + timedelta(days=30)
    sweep_job(runtime.context(), {})
    assert state(app, conv).breaches == []


def test_a_changed_policy_reaches_open_conversations_through_the_worker(app: Flask, inbox: Inbox) -> None:
    runtime = runtime_of(app)
    ref = policy(app, name="Default")
    conv = make_conversation(app, inbox)
    with db_of(app).unit_of_work() as s:
        sla.update_policy(s, SYSTEM, sla.get_policy(s, ref), {"targets": {"first_response_minutes": 5}})
    job = runtime.jobs.handler(sla.REAPPLY_JOB)
    job(runtime.context(), {})
    assert state(app, conv).first_response_due_at == conv.created_at + timedelta(minutes=5)


def test_every_calendar_and_policy_change_is_audited(app: Flask, admin: Agent) -> None:
    actor = agent_actor(admin)
    with db_of(app).unit_of_work() as s:
        hours = sla.create_business_hours(s, actor, name="Office", timezone="Europe/Berlin", hours=BERLIN_WEEK)
        p = sla.create_policy(s, actor, {"name": "Gold", "business_hours": hours.public_id,
                                         "targets": {"first_response_minutes": 30}})
        sla.update_policy(s, actor, p, {"targets": {"first_response_minutes": 20}})
        sla.update_policy(s, actor, p, {"business_hours": None})
        sla.delete_policy(s, actor, p)
        sla.delete_business_hours(s, actor, hours)
    with db_of(app).unit_of_work() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action.like("%business_hours%") |
                                                     AuditEntry.action.like("sla_policy%"))
                            .order_by(AuditEntry.id)).all()
        assert [e.action for e in entries] == [
            "business_hours.create", "sla_policy.create", "sla_policy.update", "sla_policy.update",
            "sla_policy.delete", "business_hours.delete"]
        assert all(e.actor_name == admin.name for e in entries)
        assert entries[2].data["changes"]["targets"][1]["first_response_minutes"] == 20


def test_agents_cannot_change_service_levels(app: Flask, agent: Agent) -> None:
    from helpdesk.errors import Forbidden

    with db_of(app).unit_of_work() as s, pytest.raises(Forbidden):
        sla.create_policy(s, agent_actor(agent), {"name": "Mine", "targets": {"first_response_minutes": 1}})


@pytest.mark.parametrize("data, field", [
    ({"name": "", "targets": {"first_response_minutes": 10}}, "name"),
    ({"name": "X", "targets": {}}, "first_response_minutes"),
    ({"name": "X", "targets": {"first_response_minutes": 0}}, "first_response_minutes"),
    ({"name": "X", "targets": {"first_response_minutes": "soon"}}, "first_response_minutes"),
    ({"name": "X", "targets": {"first_response_minutes": 10, "sla_minutes": 5}}, "targets"),
    ({"name": "X", "match": {"mood": "angry"}, "targets": {"first_response_minutes": 10}}, "match"),
    ({"name": "X", "match": {"priority": "panic"}, "targets": {"first_response_minutes": 10}}, "match"),
    ({"name": "X", "match": {"inbox": "ib_nope"}, "targets": {"first_response_minutes": 10}}, "match"),
    ({"name": "X", "business_hours": "bh_nope", "targets": {"first_response_minutes": 10}}, "business_hours"),
])
def test_bad_policies_are_refused_and_nothing_is_stored(app: Flask, data: dict, field: str) -> None:
    from helpdesk.errors import Invalid
    from helpdesk.tickets.sla.models import SlaPolicy

    with db_of(app).unit_of_work() as s, pytest.raises(Invalid) as err:
        sla.create_policy(s, SYSTEM, data)
    assert err.value.field == field
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(SlaPolicy)) is None


def test_a_pause_only_owes_back_the_open_hours_it_spanned(app: Flask, inbox: Inbox) -> None:
    with db_of(app).unit_of_work() as s:
        hours = sla.create_business_hours(s, SYSTEM, name="Office", timezone="Europe/Berlin", hours=BERLIN_WEEK)
        hours_id = hours.public_id
    policy(app, name="Office", business_hours=hours_id, targets={"first_response_minutes": 8 * 60})
    conv = make_conversation(app, inbox)
    monday_10 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)   # 10:00 Berlin
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        c.created_at = monday_10
        st = sla.apply(s, c, monday_10)
        assert st.first_response_due_at == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)   # Tue 10:00
        # Waiting on the customer from Monday 16:00 to Tuesday 10:00: two open hours (16-17, 9-10).
        sla.pause(st, datetime(2026, 12, 7, 15, 0, tzinfo=UTC))
        sla.resume(st, datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
        sla.recompute(st)
        assert st.first_response_due_at == datetime(2026, 12, 8, 11, 0, tzinfo=UTC)  # Tue 12:00


def test_a_breach_recorded_meanwhile_by_another_transaction_is_not_an_error(app: Flask, inbox: Inbox,
                                                                             agent: Agent) -> None:
    from sqlalchemy import insert

    from helpdesk.tickets.sla.events import SlaBreached

    policy(app, name="Default")
    conv = make_conversation(app, inbox)
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        c.created_at -= timedelta(hours=2)
        st = sla.apply(s, c, c.created_at)
        assert st.breaches == []  # loaded: the row below is unseen by this state, as with a racing sweep
        s.execute(insert(SlaBreach).values(sla_id=st.id, metric="first_response", due_at=st.first_response_due_at,
                                           recorded_at=datetime.now(UTC)))
        assert sla.record_breaches(s, st, datetime.now(UTC)) == []
        # The message that found it late still goes through.
        tickets.post_message(s, agent_actor(s.get(Agent, agent.id)), c, body="Sorry")
        assert not any(isinstance(e, SlaBreached) for e in events.pending(s))
    assert [b.metric for b in state(app, conv).breaches] == ["first_response"]


def test_a_breach_is_an_event_for_higher_rooms(app: Flask, inbox: Inbox) -> None:
    from helpdesk.tickets.sla.events import SlaBreached

    seen: list[SlaBreached] = []
    runtime = runtime_of(app)
    runtime.events.subscribe(SlaBreached, seen.append)
    policy(app, name="Default")
    conv = make_conversation(app, inbox)
    st = state(app, conv)
    runtime.clock = lambda: st.first_response_due_at + timedelta(seconds=1)
    sweep_job(runtime.context(), {})
    assert [(e.conversation_id, e.metric, e.due_at) for e in seen] == [
        (conv.id, "first_response", st.first_response_due_at)]


def test_a_target_the_business_hours_never_reach_is_refused(app: Flask) -> None:
    from helpdesk.errors import Invalid

    with db_of(app).unit_of_work() as s:
        sparse = sla.create_business_hours(s, SYSTEM, name="Sparse", timezone="UTC",
                                           hours={"mon": [["09:00", "09:01"]]})
        with pytest.raises(Invalid) as err:
            sla.create_policy(s, SYSTEM, {"name": "Never", "business_hours": sparse.public_id,
                                          "targets": {"first_response_minutes": 500_000}})
        assert err.value.field == "targets"
