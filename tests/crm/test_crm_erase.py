"""Issue 12 finding 8, CRM side: with HELPDESK_CRM_ERASE on, a GDPR erase queues a job that deletes
the contact in the connected CRM (HubSpot GDPR delete, Salesforce Contact delete); off, nothing goes out."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from helpdesk import db_of, jobs
from helpdesk.accounts import services as accounts
from helpdesk.actors import SYSTEM
from helpdesk.crm import sync
from helpdesk.crm.models import CrmContact
from tests.crm.conftest import drain
from tests.crm.fake_hubspot import FakeHubSpot
from tests.crm.fake_salesforce import FakeSalesforce


def pull(app: Flask) -> None:
    with db_of(app).unit_of_work() as s:
        sync.request_pull(s, app.config)
    drain(app)


def erase(app: Flask, manager: Any, external_id: str) -> None:
    with db_of(app).unit_of_work() as s:
        public_id = s.scalar(select(CrmContact).filter_by(external_id=external_id)).customer.public_id
        token = accounts.create_api_token(s, SYSTEM, s.merge(manager), "gdpr")
    answer = app.test_client().post(f"/api/v1/customers/{public_id}/erase",
                                    headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.get_json()


def erase_jobs(app: Flask) -> list[jobs.Job]:
    with db_of(app).sessions() as s:
        return list(s.scalars(select(jobs.Job).filter_by(kind=sync.ERASE)))


def test_erase_asks_hubspot_for_a_gdpr_delete_of_the_contact(hubspot_app: Flask, hubspot: FakeHubSpot,
                                                             manager: Any) -> None:
    ann = hubspot.add_contact("ann@example.com", "Ann", "Lee")
    other = hubspot.add_contact("bob@example.com", "Bob", "Ray")
    pull(hubspot_app)
    hubspot_app.config["CRM_ERASE"] = True
    erase(hubspot_app, manager, ann)
    [job] = erase_jobs(hubspot_app)
    assert job.payload == {"provider": "hubspot", "external_id": ann}  # no address kept in the job row
    drain(hubspot_app)
    assert hubspot.gdpr_deleted == [ann] and other in hubspot.contacts
    assert ("POST", "/crm/v3/objects/contacts/gdpr-delete") in hubspot.log
    assert erase_jobs(hubspot_app)[0].state is jobs.JobState.done


def test_erase_deletes_the_salesforce_contact(salesforce_app: Flask, salesforce: FakeSalesforce,
                                              manager: Any) -> None:
    ann = salesforce.add_contact("ann@example.com", "Ann", "Lee")
    pull(salesforce_app)
    salesforce_app.config["CRM_ERASE"] = True
    erase(salesforce_app, manager, ann)
    drain(salesforce_app)
    assert salesforce.deleted == [("Contact", ann)]
    assert erase_jobs(salesforce_app)[0].state is jobs.JobState.done


def test_without_the_setting_an_erase_leaves_the_crm_alone(hubspot_app: Flask, hubspot: FakeHubSpot,
                                                           manager: Any) -> None:
    ann = hubspot.add_contact("ann@example.com", "Ann", "Lee")
    pull(hubspot_app)
    erase(hubspot_app, manager, ann)
    drain(hubspot_app)
    assert erase_jobs(hubspot_app) == [] and hubspot.gdpr_deleted == [] and ann in hubspot.contacts
