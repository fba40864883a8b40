"""HubSpot pull and push through hubspot-api-client against the fake HubSpot."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of, jobs
from helpdesk.actors import agent_actor
from helpdesk.crm import hubspot as hubspot_module
from helpdesk.crm import sync
from helpdesk.crm.models import (
    CrmContact,
    CrmConversationLink,
    CrmSyncState,
    Customer,
    Identity,
    IdentityKind,
    LinkState,
)
from helpdesk.crm.services import find_by_identity
from helpdesk.runtime import runtime_of
from helpdesk.tickets import services as tickets
from tests.crm import fake_hubspot
from tests.crm.conftest import drain
from tests.crm.fake_hubspot import FakeHubSpot
from tests.crm.fakeserver import Reply
from tests.factories import make_conversation, make_inbox


def state(app: Flask) -> CrmSyncState:
    with db_of(app).unit_of_work() as s:
        row = s.scalar(select(CrmSyncState).filter_by(provider="hubspot"))
        s.expunge(row)
        return row


def pull(app: Flask, full: bool = False) -> None:
    with db_of(app).unit_of_work() as s:
        sync.request_pull(s, app.config, full=full)
    drain(app)


def count(app: Flask, model: Any) -> int:
    with db_of(app).unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(model))


def seed(hubspot: FakeHubSpot, n: int = 5) -> str:
    ann = hubspot.add_contact(
        "ann@example.com", "Ann", "Lee", lifecyclestage="customer", hubspot_owner_id="77"
    )
    company = hubspot.add_company("Acme Outdoor")
    hubspot.touch(ann, associatedcompanyid=company)
    hubspot.add_deal(ann, "Spring restock", "12500.00", "contractsent")
    for i in range(n - 1):
        hubspot.add_contact(f"buyer{i}@example.com", f"Buyer{i}", "Smith", lifecyclestage="lead")
    return ann


def test_first_pull_links_every_contact_with_company_owner_and_deals(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    ann = seed(hubspot, 5)
    pull(hubspot_app)
    with db_of(hubspot_app).unit_of_work() as s:
        link = s.scalar(select(CrmContact).filter_by(provider="hubspot", external_id=ann))
        assert (link.company, link.lifecycle, link.owner) == ("Acme Outdoor", "customer", "Olga Owner")
        assert link.deals[0]["name"] == "Spring restock" and link.deals[0]["amount"] == "12500.00"
        assert link.url == f"https://app.hubspot.com/contacts/4242/record/0-1/{ann}"
        assert link.customer.email == "ann@example.com" and link.customer.name == "Ann Lee"
        assert find_by_identity(s, IdentityKind.external, ann, "hubspot").id == link.customer_id
    assert count(hubspot_app, CrmContact) == 5
    st = state(hubspot_app)
    assert st.cursor is None and st.watermark is not None and st.counts["pulled"] == 5


def test_incremental_pull_asks_only_for_contacts_changed_since_the_watermark(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    seed(hubspot, 3)
    pull(hubspot_app)
    searches: list[dict[str, Any]] = []
    original = hubspot.search_contacts
    hubspot.search_contacts = lambda body, **kw: (searches.append(body), original(body=body, **kw))[1]  # type: ignore[method-assign]
    hubspot.routes = [
        (m, p, hubspot.search_contacts if "contacts/search" in p.pattern else fn)
        for m, p, fn in hubspot.routes
    ]
    pull(hubspot_app)
    assert searches, "the second pass searched"
    first = searches[0]["filterGroups"][0]["filters"][0]
    assert first["propertyName"] == "lastmodifieddate" and first["operator"] == "GTE"
    assert searches[0]["sorts"][0] == {"propertyName": "lastmodifieddate", "direction": "ASCENDING"}
    assert count(hubspot_app, CrmContact) == 3


def test_pull_stopped_by_a_429_resumes_from_its_cursor_without_duplicates(
    hubspot_app: Flask, hubspot: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubspot_module, "PAGE_SIZE", 2)
    seed(hubspot, 5)
    with db_of(hubspot_app).unit_of_work() as s:
        sync.request_pull(s, hubspot_app.config)
    worker = jobs.Worker(runtime_of(hubspot_app))
    assert worker.run_one()  # page 1 of 3
    hubspot.fail_next(
        r"/contacts/search$",
        Reply(
            429,
            {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "policyName": "SECONDLY",
            },
        ),
    )
    assert worker.run_one()  # page 2 hits the secondly limit
    with db_of(hubspot_app).unit_of_work() as s:
        job = s.scalar(
            select(jobs.Job).where(jobs.Job.kind == sync.PULL, jobs.Job.state == jobs.JobState.queued)
        )
        assert "secondly" in job.last_error.lower() or "SECONDLY" in job.last_error
        waited = (job.run_at - job.created_at).total_seconds()
        assert 0.5 <= waited < 30, "Retry-After of a secondly limit is about a second, not a long backoff"
        st = s.scalar(select(CrmSyncState))
        assert st.cursor["after"] == "2" and st.cursor["seen"] == 2
    assert count(hubspot_app, CrmContact) == 2
    drain(hubspot_app)
    assert count(hubspot_app, CrmContact) == 5
    assert state(hubspot_app).cursor is None


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, {"status": "error", "message": "internal error", "category": "INTERNAL_ERROR"}),
        Reply(200, raw=b"<html>not json</html>", headers={"Content-Type": "application/json"}),
    ],
    ids=["http-500", "garbage-json"],
)
def test_crm_answering_500_or_garbage_rolls_back_the_page_and_shows_the_error(
    hubspot_app: Flask, hubspot: FakeHubSpot, reply: Reply
) -> None:
    seed(hubspot, 3)
    hubspot.fail_next(r"/deals/batch/read$", reply)  # half way through the page: contacts read, deals not
    with db_of(hubspot_app).unit_of_work() as s:
        sync.request_pull(s, hubspot_app.config)
    assert jobs.Worker(runtime_of(hubspot_app)).run_one()
    assert count(hubspot_app, CrmContact) == 0, "nothing of the page was written"
    assert count(hubspot_app, Customer) == 0
    st = state(hubspot_app)
    assert st.last_error and st.counts["failures"] == 1
    with db_of(hubspot_app).unit_of_work() as s:
        job = s.scalar(select(jobs.Job).where(jobs.Job.kind == sync.PULL))
        assert job.state is jobs.JobState.queued and job.last_error  # retried with backoff
    drain(hubspot_app)
    assert count(hubspot_app, CrmContact) == 3


def test_expired_token_parks_the_job_with_a_clear_admin_visible_error(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    seed(hubspot, 2)
    hubspot.expired = True
    pull(hubspot_app)
    with db_of(hubspot_app).unit_of_work() as s:
        job = s.scalar(select(jobs.Job).where(jobs.Job.kind == sync.PULL))
        assert job.state is jobs.JobState.dead and job.attempts == 1, "no crash loop"
        assert "access token" in job.last_error
    st = state(hubspot_app)
    assert st.auth_failed and "expired" in st.last_error
    hubspot.expired = False  # the admin fixed it and presses retry
    with db_of(hubspot_app).unit_of_work() as s:
        jobs.retry_dead(s, s.scalar(select(jobs.Job.id).where(jobs.Job.kind == sync.PULL)))
    drain(hubspot_app)
    assert not state(hubspot_app).auth_failed
    assert count(hubspot_app, CrmContact) == 2


def test_partial_batch_failure_keeps_what_was_read_and_reports_the_rest(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    ann = seed(hubspot, 2)
    gone = hubspot.add_deal(ann, "Deleted deal", "10", "closedlost")
    del hubspot.deals[gone]  # associated but no longer readable: the batch read answers 207
    pull(hubspot_app)
    with db_of(hubspot_app).unit_of_work() as s:
        link = s.scalar(select(CrmContact).filter_by(external_id=ann))
        assert [d["name"] for d in link.deals] == ["Spring restock"]
    st = state(hubspot_app)
    assert "1 of 2 deals could not be read" in st.last_error and st.counts["partial_failures"] == 1


def test_search_past_10000_results_restarts_from_the_last_modified_date(
    hubspot_app: Flask, hubspot: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubspot_module, "PAGE_SIZE", 2)
    monkeypatch.setattr(hubspot_module, "SEARCH_RESULT_CAP", 4)
    monkeypatch.setattr(fake_hubspot, "SEARCH_CAP", 4)
    for i in range(9):
        hubspot.add_contact(f"c{i}@example.com")
    pull(hubspot_app)
    assert count(hubspot_app, CrmContact) == 9
    assert state(hubspot_app).cursor is None


def conversation_for(app: Flask, email: str = "ann@example.com", name: str = "Ann Lee") -> Any:
    inbox, _ = make_inbox(app)
    return make_conversation(
        app, inbox, email=email, name=name, body="My tent pole snapped", subject="Broken pole"
    )


def test_conversation_becomes_one_hubspot_ticket_with_a_transcript_note_on_resolve(
    hubspot_app: Flask, hubspot: FakeHubSpot, agent: Any
) -> None:
    ann = seed(hubspot, 1)
    conv = conversation_for(hubspot_app)
    drain(hubspot_app)
    assert len(hubspot.tickets) == 1
    ticket = next(iter(hubspot.tickets.values()))
    assert ticket["properties"]["subject"] == f"[#{conv.ref}] Broken pole"
    assert (
        ticket["associations"][0]["to"]["id"] == ann
        and ticket["associations"][0]["types"][0]["associationTypeId"] == 16
    )
    with db_of(hubspot_app).unit_of_work() as s:
        c = tickets.get_conversation(s, conv.public_id)
        tickets.post_message(s, agent_actor(agent), c, body="A new pole is on its way")
        tickets.set_status(s, agent_actor(agent), c, "resolved")
    drain(hubspot_app)
    assert ticket["properties"]["hs_pipeline_stage"] == "4"
    notes = list(hubspot.notes.values())
    assert len(notes) == 1 and "A new pole is on its way" in notes[0]["properties"]["hs_note_body"]
    # The same push again (a retried job) creates nothing new.
    with db_of(hubspot_app).unit_of_work() as s:
        from helpdesk.customers360.listeners import push_conversation

        push_conversation(s, hubspot_app.config, conv.id, "resolve")
    drain(hubspot_app)
    assert len(hubspot.tickets) == 1 and len(hubspot.notes) == 1


def test_retry_after_a_crash_between_create_and_commit_finds_the_ticket_instead_of_a_second(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    ann = seed(hubspot, 1)
    conv = conversation_for(hubspot_app)
    # The first attempt created the ticket remotely, then died before recording it.
    hubspot.create(hubspot.tickets, body={"properties": {"subject": f"[#{conv.ref}] Broken pole"}})
    with db_of(hubspot_app).unit_of_work() as s:
        s.add(
            CrmConversationLink(
                provider="hubspot",
                conversation_id=conv.id,
                conversation_ref=conv.ref,
                contact_external_id=ann,
                state=LinkState.creating,
            )
        )
    drain(hubspot_app)
    assert len(hubspot.tickets) == 1
    with db_of(hubspot_app).unit_of_work() as s:
        link = s.scalar(select(CrmConversationLink))
        assert link.state is LinkState.linked and link.external_id == next(iter(hubspot.tickets))


def test_unknown_customer_who_writes_gets_a_hubspot_contact(hubspot_app: Flask, hubspot: FakeHubSpot) -> None:
    conversation_for(hubspot_app, email="new.shopper@example.com", name="Nia Shopper")
    drain(hubspot_app)
    created = [c for c in hubspot.contacts.values() if c["properties"]["email"] == "new.shopper@example.com"]
    assert len(created) == 1 and created[0]["properties"]["firstname"] == "Nia"
    with db_of(hubspot_app).unit_of_work() as s:
        link = s.scalar(select(CrmContact))
        assert link.external_id == created[0]["id"] and link.customer.email == "new.shopper@example.com"
    assert len(hubspot.tickets) == 1


def test_no_contact_is_created_when_the_setting_is_off(hubspot_app: Flask, hubspot: FakeHubSpot) -> None:
    hubspot_app.config["CRM_CREATE_CONTACTS"] = False
    conversation_for(hubspot_app, email="quiet@example.com")
    drain(hubspot_app)
    assert hubspot.contacts == {} and hubspot.tickets == {}
    assert state(hubspot_app).counts["skipped"] == 1


def test_contact_email_changed_in_the_crm_becomes_primary_and_the_old_one_stays(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    ann = seed(hubspot, 1)
    pull(hubspot_app)
    hubspot.touch(ann, email="ann.lee@newmail.example")
    pull(hubspot_app)
    with db_of(hubspot_app).unit_of_work() as s:
        customer = find_by_identity(s, IdentityKind.external, ann, "hubspot")
        assert customer.email == "ann.lee@newmail.example"
        emails = sorted(i.value for i in customer.identities if i.kind is IdentityKind.email)
        assert emails == ["ann.lee@newmail.example", "ann@example.com"]
        assert find_by_identity(s, IdentityKind.email, "ann@example.com").id == customer.id
        assert s.scalar(select(func.count()).select_from(Customer)) == 1


def test_two_customers_claiming_one_contact_are_both_flagged_and_nothing_moves(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    ann = seed(hubspot, 1)
    pull(hubspot_app)
    hubspot_app.config["CRM_CREATE_CONTACTS"] = False
    conversation_for(hubspot_app, email="annie@work.example", name="Annie")  # a second helpdesk customer
    drain(hubspot_app)
    hubspot.touch(ann, email="annie@work.example")  # the CRM now says the contact is that address
    pull(hubspot_app)
    with db_of(hubspot_app).unit_of_work() as s:
        linked = find_by_identity(s, IdentityKind.external, ann, "hubspot")
        other = find_by_identity(s, IdentityKind.email, "annie@work.example")
        assert linked.id != other.id
        assert linked.email == "ann@example.com", "the linked customer keeps its email"
        assert s.scalar(select(CrmContact).filter_by(external_id=ann)).customer_id == linked.id
        assert linked.attributes["crm_conflicts"][0]["other"] == other.public_id
        assert other.attributes["crm_conflicts"][0]["other"] == linked.public_id
        assert s.scalar(select(func.count()).select_from(Identity).filter_by(value="annie@work.example")) == 1
    assert "annie@work.example belongs to" in state(hubspot_app).last_error


def test_a_missing_token_parks_the_job_with_the_reason_instead_of_retrying(hubspot_app: Flask) -> None:
    hubspot_app.config["HUBSPOT_ACCESS_TOKEN"] = None
    pull(hubspot_app)
    with db_of(hubspot_app).unit_of_work() as s:
        job = s.scalar(select(jobs.Job).where(jobs.Job.kind == sync.PULL))
        assert job.state is jobs.JobState.dead and "HELPDESK_HUBSPOT_ACCESS_TOKEN" in job.last_error
    assert state(hubspot_app).auth_failed


def test_a_finished_pass_schedules_the_next_and_pull_now_brings_it_forward(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    hubspot_app.config["CRM_PULL_INTERVAL"] = 300
    seed(hubspot, 2)
    with db_of(hubspot_app).unit_of_work() as s:
        sync.request_pull(s, hubspot_app.config)
    jobs.Worker(runtime_of(hubspot_app)).run_until_idle()
    with db_of(hubspot_app).unit_of_work() as s:
        scheduled = s.scalar(select(jobs.Job).where(jobs.Job.state == jobs.JobState.queued))
        assert scheduled.kind == sync.PULL and (scheduled.run_at - scheduled.created_at).total_seconds() > 250
        assert sync.request_pull(s, hubspot_app.config, full=True).id == scheduled.id
    with db_of(hubspot_app).unit_of_work() as s:
        job = s.get(jobs.Job, scheduled.id)
        assert job.payload["full"] is True and (job.run_at - job.created_at).total_seconds() < 5
