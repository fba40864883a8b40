"""Salesforce pull and push through simple-salesforce over HTTPS (self-signed certificate trusted)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of, jobs
from helpdesk.actors import agent_actor
from helpdesk.crm import sync
from helpdesk.crm.models import CrmContact, CrmConversationLink, CrmSyncState
from helpdesk.runtime import runtime_of
from helpdesk.tickets import services as tickets
from tests.crm.conftest import drain, use_crm
from tests.crm.fake_salesforce import FakeSalesforce
from tests.crm.fakeserver import Reply
from tests.factories import make_conversation, make_inbox


def seed(sf: FakeSalesforce) -> tuple[str, str]:
    account = sf.add_account("Northwind Traders")
    ann = sf.add_contact("ann@example.com", "Ann", "Lee", account=account, phone="+4930123456")
    sf.add_opportunity(account, "Annual contract", 48000, "Negotiation/Review")
    sf.add_opportunity(account, "Pilot", 1200, "Closed Won")
    for i in range(3):
        sf.add_contact(f"lead{i}@example.com", f"Lead{i}", "Jones")
    return ann, account


def pull(app: Flask) -> None:
    with db_of(app).unit_of_work() as s:
        sync.request_pull(s, app.config)
    drain(app)


def links(app: Flask) -> int:
    with db_of(app).unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(CrmContact))


def test_pull_pages_through_next_records_url_with_accounts_and_opportunities(
    salesforce_app: Flask, salesforce: FakeSalesforce
) -> None:
    ann, _ = seed(salesforce)
    pull(salesforce_app)
    assert links(salesforce_app) == 4
    assert salesforce.count("GET", r"/query/01g") >= 1, "later pages came from nextRecordsUrl"
    with db_of(salesforce_app).unit_of_work() as s:
        link = s.scalar(select(CrmContact).filter_by(provider="salesforce", external_id=ann))
        assert (link.company, link.lifecycle, link.owner) == (
            "Northwind Traders",
            "Customer - Direct",
            "Sam Seller",
        )
        assert sorted(d["name"] for d in link.deals) == ["Annual contract", "Pilot"]
        assert link.url.endswith(f"/lightning/r/Contact/{ann}/view")


def test_account_change_refreshes_its_contacts_on_the_next_incremental_pull(
    salesforce_app: Flask, salesforce: FakeSalesforce
) -> None:
    ann, account = seed(salesforce)
    pull(salesforce_app)
    salesforce.touch("Account", account, Name="Northwind Holdings")
    pull(salesforce_app)
    with db_of(salesforce_app).unit_of_work() as s:
        assert s.scalar(select(CrmContact).filter_by(external_id=ann)).company == "Northwind Holdings"


def test_case_is_created_once_with_a_transcript_task_on_resolve(
    salesforce_app: Flask, salesforce: FakeSalesforce, agent: Any
) -> None:
    ann, _ = seed(salesforce)
    pull(salesforce_app)
    inbox, _ = make_inbox(salesforce_app, "Support", "email", "support@shop.example")
    conv = make_conversation(
        salesforce_app, inbox, email="ann@example.com", body="Invoice is wrong", subject="Invoice 1042"
    )
    drain(salesforce_app)
    cases = list(salesforce.objects["Case"].values())
    assert len(cases) == 1 and cases[0]["ContactId"] == ann and cases[0]["Origin"] == "Email"
    with db_of(salesforce_app).unit_of_work() as s:
        c = tickets.get_conversation(s, conv.public_id)
        tickets.post_message(s, agent_actor(agent), c, body="Corrected invoice attached")
        tickets.set_status(s, agent_actor(agent), c, "resolved")
    drain(salesforce_app)
    assert cases[0]["Status"] == "Closed"
    tasks = list(salesforce.objects["Task"].values())
    assert len(tasks) == 1 and "Corrected invoice attached" in tasks[0]["Description"]
    assert tasks[0]["WhatId"] == cases[0]["Id"] and tasks[0]["WhoId"] == ann
    with db_of(salesforce_app).unit_of_work() as s:
        from helpdesk.customers360.listeners import push_conversation

        push_conversation(s, salesforce_app.config, conv.id, "resolve")
        push_conversation(s, salesforce_app.config, conv.id, "csat", csat={"score": 5, "comment": "Quick and kind"})
    drain(salesforce_app)
    assert len(salesforce.objects["Case"]) == 1 and len(salesforce.objects["Task"]) == 1
    comments = list(salesforce.objects["CaseComment"].values())
    assert [c["CommentBody"] for c in comments] == ["CSAT 5/5: Quick and kind"]


def test_request_limit_exceeded_waits_instead_of_failing(
    salesforce_app: Flask, salesforce: FakeSalesforce
) -> None:
    seed(salesforce)
    salesforce.fail_next(
        r"/query/?$",
        Reply(403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
    )
    with db_of(salesforce_app).unit_of_work() as s:
        sync.request_pull(s, salesforce_app.config)
    assert jobs.Worker(runtime_of(salesforce_app)).run_one()
    with db_of(salesforce_app).unit_of_work() as s:
        job = s.scalar(select(jobs.Job).where(jobs.Job.kind == sync.PULL))
        assert job.state is jobs.JobState.queued and "REQUEST_LIMIT_EXCEEDED" in job.last_error
        assert job.attempts == 0, "waiting for the org's API allowance uses no attempt"
        assert (job.run_at - job.created_at).total_seconds() > 600
        assert "REQUEST_LIMIT_EXCEEDED" in s.scalar(select(CrmSyncState)).last_error
    drain(salesforce_app)
    assert links(salesforce_app) == 4


def test_expired_session_is_renewed_with_client_credentials(
    salesforce_app: Flask, salesforce: FakeSalesforce
) -> None:
    use_crm(
        salesforce_app,
        SALESFORCE_ACCESS_TOKEN=None,
        SALESFORCE_CLIENT_ID="cid",
        SALESFORCE_CLIENT_SECRET="csecret",
    )
    seed(salesforce)
    pull(salesforce_app)
    salesforce.expire_sessions()
    salesforce.add_contact("late@example.com", "Late", "Comer")
    pull(salesforce_app)
    assert links(salesforce_app) == 5
    assert salesforce.count("POST", r"/services/oauth2/token") == 2


def test_expired_session_without_client_credentials_is_a_clear_error(
    salesforce_app: Flask, salesforce: FakeSalesforce
) -> None:
    seed(salesforce)
    salesforce.expire_sessions()
    pull(salesforce_app)
    with db_of(salesforce_app).unit_of_work() as s:
        job = s.scalar(select(jobs.Job).where(jobs.Job.kind == sync.PULL))
        assert job.state is jobs.JobState.dead and job.attempts == 1
        state = s.scalar(select(CrmSyncState))
        assert state.auth_failed and "INVALID_SESSION_ID" in state.last_error
        assert s.scalar(select(func.count()).select_from(CrmConversationLink)) == 0


def test_opportunity_change_refreshes_the_deals_of_its_accounts_contacts(
    salesforce_app: Flask, salesforce: FakeSalesforce
) -> None:
    ann, _account = seed(salesforce)
    pull(salesforce_app)
    opportunity = next(
        o for o in salesforce.objects["Opportunity"].values() if o["Name"] == "Annual contract"
    )
    salesforce.touch("Opportunity", opportunity["Id"], StageName="Closed Won", Amount=51000)
    pull(salesforce_app)
    with db_of(salesforce_app).unit_of_work() as s:
        deals = {d["name"]: d for d in s.scalar(select(CrmContact).filter_by(external_id=ann)).deals}
        assert (
            deals["Annual contract"]["stage"] == "Closed Won"
            and deals["Annual contract"]["amount"] == "51000.00"
        )


def test_an_expired_query_locator_restarts_the_pass_instead_of_ending_it(
    salesforce_app: Flask, salesforce: FakeSalesforce
) -> None:
    seed(salesforce)
    with db_of(salesforce_app).unit_of_work() as s:
        sync.request_pull(s, salesforce_app.config)
    worker = jobs.Worker(runtime_of(salesforce_app))
    assert worker.run_one()  # first page of 2; the locator for the rest is remembered
    salesforce.cursors.clear()  # ... and expires
    drain(salesforce_app)
    assert links(salesforce_app) == 4
    with db_of(salesforce_app).unit_of_work() as s:
        assert s.scalar(select(CrmSyncState)).cursor is None


def test_a_customers_csat_answer_reaches_the_case_and_the_360_view(
    salesforce_app: Flask, salesforce: FakeSalesforce, agent: Any
) -> None:
    from helpdesk.actors import customer_actor
    from helpdesk.customers360.queries import customer_360
    from helpdesk.tickets import csat
    from helpdesk.tickets.models import Conversation

    seed(salesforce)
    pull(salesforce_app)
    inbox, _ = make_inbox(salesforce_app, "Support", "email", "support@shop.example")
    conv = make_conversation(salesforce_app, inbox, email="ann@example.com", body="Where is it?")
    with db_of(salesforce_app).unit_of_work() as s:
        tickets.set_status(s, agent_actor(agent), s.get(Conversation, conv.id), "resolved")
    drain(salesforce_app)  # the Case, the transcript and the survey
    with db_of(salesforce_app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        csat.submit_for_conversation(s, customer_actor(c.customer), c, 2, "Took too long")
    drain(salesforce_app)
    comments = [c["CommentBody"] for c in salesforce.objects["CaseComment"].values()]
    assert comments == ["CSAT 2/5: Took too long"]
    with db_of(salesforce_app).unit_of_work() as s:
        view = customer_360(s, s.get(Conversation, conv.id).customer)
        assert view["conversations"][0]["csat"]["score"] == 2
        assert view["csat"]["average"] == 2
