"""CRM jobs in phases: no transaction (no SQLite write lock) is open while HubSpot is called, and
429s with Retry-After are waited out without using up the job's attempts."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from helpdesk import db_of, jobs
from helpdesk.actors import agent_actor
from helpdesk.crm import sync
from helpdesk.crm.models import CrmContact
from helpdesk.tickets import services as tickets
from tests.crm.conftest import drain
from tests.crm.fake_hubspot import FakeHubSpot
from tests.crm.fakeserver import Reply
from tests.crm.test_hubspot_sync import conversation_for, seed
from tests.factories import make_conversation, make_inbox
from tests.txprobe import WriteProbe


def probe_every_request(hubspot: FakeHubSpot, database_url: str) -> WriteProbe:
    probe = WriteProbe(database_url)

    def precheck(method: str, path: str, headers: dict[str, str]) -> Reply | None:
        probe.check()  # while the worker waits for this answer
        return None

    hubspot.precheck = precheck  # type: ignore[method-assign]
    return probe


def test_pull_and_refresh_call_hubspot_with_no_transaction_open(
    hubspot_app: Flask, hubspot: FakeHubSpot, database_url: str
) -> None:
    ann = seed(hubspot, 5)
    probe = probe_every_request(hubspot, database_url)
    with db_of(hubspot_app).unit_of_work() as s:
        sync.request_pull(s, hubspot_app.config, full=True)
        jobs.enqueue(s, sync.REFRESH, {"provider": "hubspot", "ids": [ann]})
    drain(hubspot_app)
    probe.assert_never_held()
    with db_of(hubspot_app).unit_of_work() as s:
        state = sync.sync_state(s, "hubspot")
        assert state.counts["pulled"] == 5 and state.counts["refreshed"] == 1 and state.cursor is None


def test_push_of_a_conversation_calls_hubspot_with_no_transaction_open(
    hubspot_app: Flask, hubspot: FakeHubSpot, database_url: str, agent: Any
) -> None:
    probe = probe_every_request(hubspot, database_url)
    conv = conversation_for(hubspot_app, email="new.buyer@example.com", name="New Buyer")
    drain(hubspot_app)  # contact search + create, ticket create
    with db_of(hubspot_app).unit_of_work() as s:
        c = tickets.get_conversation(s, conv.public_id)
        tickets.post_message(s, agent_actor(agent), c, body="Sent a new one")
        tickets.set_status(s, agent_actor(agent), c, "resolved")
    drain(hubspot_app)  # ticket update + transcript note
    probe.assert_never_held()
    assert len(probe.results) >= 4
    assert len(hubspot.tickets) == 1 and len(hubspot.notes) == 1
    assert [c["properties"]["email"] for c in hubspot.contacts.values()] == ["new.buyer@example.com"]


def test_a_hubspot_answering_429_retry_after_again_and_again_delays_pushes_but_loses_none(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    """The report: against 429 + Retry-After: 2 every crm.push used an attempt per 429 and all
    ended dead. Waiting out a rate limit is not a failure: every push arrives in the end."""
    inbox, _ = make_inbox(hubspot_app)
    conversations = [make_conversation(hubspot_app, inbox, email=f"shopper{i}@example.com", name=f"Shopper {i}",
                                       subject="Broken pole") for i in range(6)]
    limited = Reply(429, {"status": "error", "message": "You have reached your secondly limit.",
                          "category": "RATE_LIMITS", "policyName": "SECONDLY"}, {"Retry-After": "2"})
    hubspot.fail_next(r"^/crm/v3/objects/", limited, times=6 * 12)  # 12 per job: beyond 8 attempts
    drain(hubspot_app, rounds=40)
    with db_of(hubspot_app).unit_of_work() as s:
        pushes = s.scalars(select(jobs.Job).filter_by(kind=sync.PUSH)).all()
        assert {j.state for j in pushes} == {jobs.JobState.done}, [(j.state, j.last_error) for j in pushes]
        assert all(j.attempts <= 1 for j in pushes), "a 429 used up an attempt"
    assert hubspot.count("POST", r"/crm/v3/objects/") >= 6 * 12
    assert sorted(t["properties"]["subject"] for t in hubspot.tickets.values()) == sorted(
        f"[#{c.ref}] Broken pole" for c in conversations)


def test_a_pulled_page_is_written_in_short_transactions_so_chat_never_waits_behind_it(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    """The stall bench: one 100-contact page written in one transaction held SQLite's write lock
    for tens of milliseconds and agent messages waited behind it (p99 61 ms). Each transaction now
    writes at most PAGE_CHUNK contacts; the counts stay those of the whole pass."""
    seed(hubspot, 130)
    per_transaction: list[int] = []

    def count(session: Session, context: Any, instances: Any) -> None:
        added = sum(isinstance(o, CrmContact) for o in session.new)
        session.info["crm_rows"] = session.info.get("crm_rows", 0) + added

    def done(session: Session) -> None:
        if rows := session.info.pop("crm_rows", 0):
            per_transaction.append(rows)

    event.listen(Session, "before_flush", count)
    event.listen(Session, "after_commit", done)
    try:
        with db_of(hubspot_app).unit_of_work() as s:
            sync.request_pull(s, hubspot_app.config, full=True)
        drain(hubspot_app)
    finally:
        event.remove(Session, "before_flush", count)
        event.remove(Session, "after_commit", done)
    assert sum(per_transaction) == 130 and max(per_transaction) <= sync.PAGE_CHUNK, per_transaction
    with db_of(hubspot_app).unit_of_work() as s:
        state = sync.sync_state(s, "hubspot")
        assert state.counts["pulled"] == 130 and state.counts["created"] == 130 and state.cursor is None
        assert s.scalar(select(func.count()).select_from(CrmContact)) == 130
