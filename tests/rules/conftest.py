"""Shared fixtures: an admin API client and a worker that drains the queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk import db_of, runtime_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.jobs import Worker


def api_client(client: FlaskClient, app: Flask, agent: Agent) -> Any:
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "tests")

    class Api:
        def __getattr__(self, method: str) -> Any:
            def call(path: str, **kwargs: Any) -> Any:
                headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
                return getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)
            return call
    return Api()


@pytest.fixture
def admin_api(app: Flask, admin: Agent) -> Any:
    return api_client(app.test_client(), app, admin)


@pytest.fixture
def agent_api(app: Flask, agent: Agent) -> Any:
    return api_client(app.test_client(), app, agent)


@pytest.fixture
def drain(app: Flask) -> Callable[[], int]:
    worker = Worker(runtime_of(app), lease_seconds=30)
    return lambda: worker.run_until_idle(max_jobs=200)
