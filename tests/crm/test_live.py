"""End to end under `helpdesk run` (gevent, in-process worker): a conversation opened through the
REST API reaches the fake HubSpot as one ticket on the customer's contact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from flask import Flask

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.actors import SYSTEM
from tests.conftest import start_live_server, stop_live_server
from tests.crm.fake_hubspot import FakeHubSpot
from tests.factories import make_inbox
from tests.servers import wait_until


def test_conversation_opened_over_the_api_becomes_a_hubspot_ticket(
    app: Flask, agent: Any, hubspot: FakeHubSpot, database_url: str, tmp_path: Path
) -> None:
    ann = hubspot.add_contact("ann@example.com", "Ann", "Lee")
    inbox, _ = make_inbox(app, "Support", "email", "support@shop.example")
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.merge(agent), "live")
    db_of(app).dispose()
    server = start_live_server(
        tmp_path,
        database_url,
        env={
            "HELPDESK_CRM": "hubspot",
            "HELPDESK_HUBSPOT_ACCESS_TOKEN": "hs-token",
            "HELPDESK_HUBSPOT_API_URL": hubspot.url,
            "HELPDESK_CRM_PULL_INTERVAL": "0",
        },
    )
    try:
        response = requests.post(
            f"{server.url}/api/v1/conversations",
            timeout=10,
            headers={"Authorization": f"Bearer {token}"},
            json={
                "inbox": inbox.public_id,
                "customer": {"email": "ann@example.com"},
                "subject": "Where is my order?",
                "body": "Order 1042 has not arrived",
            },
        )
        assert response.status_code == 201, response.text
        wait_until(lambda: len(hubspot.tickets) == 1, timeout=20, message="the ticket in HubSpot")
        ticket = next(iter(hubspot.tickets.values()))
        assert ticket["associations"][0]["to"]["id"] == ann
        assert ticket["properties"]["content"] == "Order 1042 has not arrived"
        customer = requests.get(
            f"{server.url}/api/v1/customers?email=ann@example.com",
            timeout=10,
            headers={"Authorization": f"Bearer {token}"},
        ).json()["data"][0]
        view = requests.get(
            f"{server.url}/api/v1/customers/{customer['id']}",
            timeout=10,
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert view["crm"]["external_id"] == ann
        wait_until(
            lambda: requests.get(
                f"{server.url}/api/v1/customers/{customer['id']}",
                timeout=10,
                headers={"Authorization": f"Bearer {token}"},
            ).json()["conversations"][0]["crm_url"],
            timeout=10,
            message="the ticket link in the 360 view",
        )
    finally:
        stop_live_server(server)
