"""POST /webhooks/hubspot: signature v3, stale timestamps, repeats."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from helpdesk import db_of, jobs
from helpdesk.crm.models import CrmContact, CrmWebhookDelivery
from helpdesk.crm.webhooks import signature_v3
from tests.crm.conftest import drain
from tests.crm.fake_hubspot import FakeHubSpot

SECRET = "hs-client-secret"
URI = "http://localhost/webhooks/hubspot"


def post(
    client: FlaskClient,
    events: list[dict[str, Any]],
    *,
    secret: str = SECRET,
    age_ms: int = 0,
    signature: str | None = None,
) -> Any:
    body = json.dumps(events).encode()
    timestamp = str(int(time.time() * 1000) - age_ms)
    sig = signature if signature is not None else signature_v3(secret, "POST", URI, body, timestamp)
    return client.post(
        "/webhooks/hubspot",
        data=body,
        content_type="application/json",
        headers={"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": timestamp},
    )


def event(contact_id: str, event_id: int = 1) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 9,
        "portalId": 4242,
        "appId": 7,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": int(contact_id),
        "propertyName": "lifecyclestage",
        "propertyValue": "customer",
        "changeSource": "CRM_UI",
    }


def counts(app: Flask) -> tuple[int, int, int]:
    with db_of(app).unit_of_work() as s:
        return (
            s.scalar(select(func.count()).select_from(jobs.Job)),
            s.scalar(select(func.count()).select_from(CrmWebhookDelivery)),
            s.scalar(select(func.count()).select_from(CrmContact)),
        )


def test_signed_webhook_refreshes_the_changed_contact_at_once(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    cid = hubspot.add_contact("ann@example.com", "Ann", "Lee", lifecyclestage="customer")
    response = post(hubspot_app.test_client(), [event(cid)])
    assert response.status_code == 200 and response.get_json()["refresh"] == 1
    drain(hubspot_app)
    with db_of(hubspot_app).unit_of_work() as s:
        link = s.scalar(select(CrmContact).filter_by(external_id=cid))
        assert link.lifecycle == "customer" and link.customer.email == "ann@example.com"


def test_bad_signature_is_refused_with_401_and_changes_nothing(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    cid = hubspot.add_contact("ann@example.com")
    client = hubspot_app.test_client()
    for response in (
        post(client, [event(cid)], secret="not-the-secret"),
        post(client, [event(cid)], signature=""),
    ):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "bad_signature"
    assert counts(hubspot_app) == (0, 0, 0)


def test_timestamp_older_than_five_minutes_is_refused_even_when_signed(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    cid = hubspot.add_contact("ann@example.com")
    response = post(hubspot_app.test_client(), [event(cid)], age_ms=5 * 60 * 1000 + 1000)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "stale_signature"
    assert counts(hubspot_app) == (0, 0, 0)


def test_a_repeated_event_id_is_accepted_and_changes_nothing(
    hubspot_app: Flask, hubspot: FakeHubSpot
) -> None:
    cid = hubspot.add_contact("ann@example.com")
    client = hubspot_app.test_client()
    assert post(client, [event(cid, 55)]).status_code == 200
    before = counts(hubspot_app)
    again = post(client, [event(cid, 55)])
    assert again.status_code == 200 and again.get_json()["accepted"] == 0
    assert counts(hubspot_app) == before


def test_a_body_that_is_not_a_list_of_events_is_refused(hubspot_app: Flask) -> None:
    body = b'{"not": "a list"}'
    timestamp = str(int(time.time() * 1000))
    response = hubspot_app.test_client().post(
        "/webhooks/hubspot",
        data=body,
        content_type="application/json",
        headers={
            "X-HubSpot-Signature-v3": signature_v3(SECRET, "POST", URI, body, timestamp),
            "X-HubSpot-Request-Timestamp": timestamp,
        },
    )
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "malformed_json"
    assert counts(hubspot_app) == (0, 0, 0)
