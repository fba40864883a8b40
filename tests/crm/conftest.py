"""CRM fixtures: fake HubSpot (http) and Salesforce (https, self-signed) servers, apps wired to them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from helpdesk import db_of, jobs
from helpdesk.db import utcnow
from helpdesk.runtime import runtime_of
from tests.crm.fake_hubspot import FakeHubSpot
from tests.crm.fake_salesforce import FakeSalesforce
from tests.servers import self_signed_cert


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    server = FakeHubSpot().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def salesforce(tls_cert: tuple[Path, Path]) -> Iterator[FakeSalesforce]:
    server = FakeSalesforce(tls_cert, batch_size=2, client_id="cid", client_secret="csecret").start()
    yield server
    server.stop()


def use_crm(app: Flask, **settings: Any) -> Flask:
    app.config.update(settings)  # the runtime reads the app's config itself
    return app


@pytest.fixture
def hubspot_app(app: Flask, hubspot: FakeHubSpot) -> Iterator[Flask]:
    yield use_crm(
        app,
        CRM="hubspot",
        HUBSPOT_ACCESS_TOKEN="hs-token",
        HUBSPOT_API_URL=hubspot.url,
        HUBSPOT_CLIENT_SECRET="hs-client-secret",
        HUBSPOT_PORTAL_ID="4242",
        HUBSPOT_RATE="1000/1",
        HUBSPOT_SEARCH_RATE="1000/1",
        CRM_PULL_INTERVAL=0,
    )


@pytest.fixture
def salesforce_app(app: Flask, salesforce: FakeSalesforce, tls_cert: tuple[Path, Path]) -> Iterator[Flask]:
    yield use_crm(
        app,
        CRM="salesforce",
        SALESFORCE_INSTANCE_URL=salesforce.url,
        SALESFORCE_ACCESS_TOKEN="sf-token",
        SALESFORCE_CA_BUNDLE=str(tls_cert[0]),
        CRM_PULL_INTERVAL=0,
    )


def drain(app: Flask, *, now: bool = True, rounds: int = 20) -> int:
    """Run due jobs; with now=True jobs waiting on a backoff or Retry-After are made due first."""
    worker = jobs.Worker(runtime_of(app))
    total = 0
    for _ in range(rounds):
        if now:
            with db_of(app).unit_of_work() as s:
                s.execute(
                    update(jobs.Job)
                    .where(jobs.Job.state == jobs.JobState.queued)
                    .values(run_at=utcnow() - timedelta(seconds=1))
                )
        ran = worker.run_until_idle(max_jobs=200)
        total += ran
        if not ran:
            break
    return total


def run_once(app: Flask) -> bool:
    return jobs.Worker(runtime_of(app)).run_one()
