"""Console pages: the 360 page, the conversation sidebar, the CRM admin page; and `helpdesk crm sync`."""

from __future__ import annotations

import re
from typing import Any

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of, jobs
from helpdesk.cli import cli
from helpdesk.crm import sync
from helpdesk.crm.models import CrmContact, CrmSyncState, Customer
from tests.conftest import csrf_token, login
from tests.crm.conftest import drain
from tests.crm.fake_hubspot import FakeHubSpot
from tests.factories import make_conversation, make_inbox


def seeded(app: Flask, hubspot: FakeHubSpot) -> Any:
    ann = hubspot.add_contact(
        "ann@example.com", "Ann", "Lee", lifecyclestage="customer", hubspot_owner_id="77"
    )
    hubspot.touch(ann, associatedcompanyid=hubspot.add_company("Acme Outdoor"))
    hubspot.add_deal(ann, "Spring restock", "12500.00", "contractsent")
    with db_of(app).unit_of_work() as s:
        sync.request_pull(s, app.config)
    drain(app)
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox, email="ann@example.com", subject="Broken tent pole")
    drain(app)
    return conv


def test_360_page_shows_crm_fields_deals_timeline_and_takes_notes(
    hubspot_app: Flask, hubspot: FakeHubSpot, agent_client: FlaskClient
) -> None:
    conv = seeded(hubspot_app, hubspot)
    with db_of(hubspot_app).unit_of_work() as s:
        public = s.get(Customer, conv.customer_id).public_id
    html = agent_client.get(f"/console/customers/{public}").get_data(as_text=True)
    for text in (
        "Acme Outdoor",
        "Olga Owner",
        "Spring restock",
        "12,500.00",
        "Broken tent pole",
        "Open in HubSpot",
        "lifetime value",
    ):
        assert text in html
    token = csrf_token(agent_client, f"/console/customers/{public}")
    response = agent_client.post(
        f"/console/customers/{public}/notes", data={"body": "Call before noon", "csrf_token": token}
    )
    assert response.status_code == 303
    assert "Call before noon" in agent_client.get(f"/console/customers/{public}").get_data(as_text=True)
    listing = agent_client.get("/console/customers?q=acme").get_data(as_text=True)
    assert "Ann Lee" in listing


def test_conversation_page_sidebar_shows_the_customer_360(
    hubspot_app: Flask, hubspot: FakeHubSpot, agent_client: FlaskClient
) -> None:
    conv = seeded(hubspot_app, hubspot)
    html = agent_client.get(f"/console/c/{conv.public_id}").get_data(as_text=True)
    assert "Acme Outdoor" in html and "Spring restock" in html and "Full profile" in html
    assert re.search(r"HubSpot ticket \d+", html)


def test_admin_crm_page_shows_state_and_failures_and_retries_them(
    hubspot_app: Flask, hubspot: FakeHubSpot, client: FlaskClient, admin: Any
) -> None:
    seeded(hubspot_app, hubspot)
    hubspot.expired = True
    with db_of(hubspot_app).unit_of_work() as s:
        sync.request_pull(s, hubspot_app.config)
    drain(hubspot_app)
    login(client, admin.email)
    html = client.get("/admin/crm").get_data(as_text=True)
    assert "credentials refused" in html and "expired" in html and "Retry" in html
    with db_of(hubspot_app).unit_of_work() as s:
        dead = s.scalar(select(jobs.Job).where(jobs.Job.state == jobs.JobState.dead))
    token = csrf_token(client, "/admin/crm")
    retried = client.post(f"/admin/jobs/{dead.id}/retry", data={"csrf_token": token, "next": "/admin/crm"})
    assert retried.status_code == 303 and retried.headers["Location"].endswith("/admin/crm")
    hubspot.expired = False
    drain(hubspot_app)
    assert client.post("/admin/crm/pull", data={"csrf_token": token}).status_code == 303
    drain(hubspot_app)
    html = client.get("/admin/crm").get_data(as_text=True)
    assert "credentials refused" not in html and "linked contacts" in html


def test_agents_cannot_open_the_crm_admin_page(agent_client: FlaskClient) -> None:
    assert agent_client.get("/admin/crm").status_code == 403


def test_cli_crm_sync_runs_a_pass_with_progress(
    hubspot_app: Flask, hubspot: FakeHubSpot, app_config: dict[str, Any], monkeypatch: Any
) -> None:
    for i in range(7):
        hubspot.add_contact(f"c{i}@example.com")
    env = {
        "HELPDESK_DATABASE_URL": app_config["DATABASE_URL"],
        "HELPDESK_SECRET_KEY": "k",
        "HELPDESK_INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "HELPDESK_CRM": "hubspot",
        "HELPDESK_HUBSPOT_ACCESS_TOKEN": "hs-token",
        "HELPDESK_HUBSPOT_API_URL": hubspot.url,
        "HELPDESK_RUN_MIGRATIONS": "0",
    }
    result = CliRunner().invoke(cli, ["crm", "sync", "--full"], env=env)
    assert result.exit_code == 0, result.output
    assert "7 contacts pulled" in result.output
    with db_of(hubspot_app).unit_of_work() as s:
        assert len(s.scalars(select(CrmContact)).all()) == 7
        assert s.scalar(select(CrmSyncState)).cursor is None
    hubspot.expired = True
    failed = CliRunner().invoke(cli, ["crm", "sync"], env=env)
    assert failed.exit_code == 2 and "expired" in failed.output


def test_openapi_describes_the_customer_paths(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/customers", "/customers/{id}", "/customers/{id}/export", "/customers/{id}/erase"):
        assert path in paths


def test_agent_merges_by_email_and_splits_back_from_the_360_page(
    app: Flask, agent_client: FlaskClient
) -> None:
    inbox, _ = make_inbox(app)
    a = make_conversation(app, inbox, email="ann@example.com", name="Ann Lee", subject="Tent")
    make_conversation(app, inbox, email="ann.lee@work.example", subject="Invoice")
    with db_of(app).unit_of_work() as s:
        public = s.get(Customer, a.customer_id).public_id
    page = f"/console/customers/{public}"
    token = csrf_token(agent_client, page)
    merged = agent_client.post(f"{page}/merge", data={"source": "ann.lee@work.example", "csrf_token": token})
    assert merged.status_code == 303
    html = agent_client.get(page).get_data(as_text=True)
    assert "Invoice" in html and "ann.lee@work.example" in html and "Customers merged" in html
    missing = agent_client.post(f"{page}/merge", data={"source": "nobody@example.com", "csrf_token": token})
    assert missing.status_code == 303
    assert "no customer with email nobody@example.com" in agent_client.get(page).get_data(as_text=True)
    split = agent_client.post(
        f"{page}/split", data={"identity": "email:ann.lee@work.example", "csrf_token": token}
    )
    assert split.status_code == 303
    html = agent_client.get(page).get_data(as_text=True)
    assert "Invoice" not in html and "Tent" in html


def test_360_page_shows_a_crm_conflict_with_a_merge_button(app: Flask, agent_client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    a = make_conversation(app, inbox, email="ann@example.com", subject="Tent")
    b = make_conversation(app, inbox, email="annie@work.example", subject="Invoice")
    with db_of(app).unit_of_work() as s:
        first, other = s.get(Customer, a.customer_id), s.get(Customer, b.customer_id)
        first.attributes = {
            "crm_conflicts": [
                {
                    "kind": "email_taken",
                    "provider": "hubspot",
                    "contact": "1001",
                    "email": "annie@work.example",
                    "other": other.public_id,
                }
            ]
        }
        public, other_id = first.public_id, other.public_id
    html = agent_client.get(f"/console/customers/{public}").get_data(as_text=True)
    assert "Needs a decision" in html and f"Merge {other_id} into this customer" in html
    sidebar = agent_client.get(f"/console/c/{a.public_id}").get_data(as_text=True)
    assert "Possible duplicate" in sidebar
