"""GET /healthz as a load balancer and a monitor use it (PROTOCOL.md, Runtime and operations)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk import create_app, db_of
from helpdesk.db import Database, utcnow
from helpdesk.jobs import Job, JobState, enqueue
from tests.conftest import BACKEND
from tests.servers import free_port


def test_healthz_answers_without_login_with_the_job_backlog(app: Flask, client: FlaskClient) -> None:
    with db_of(app).unit_of_work() as s:
        enqueue(s, "test.nothing", {})
        late = enqueue(s, "test.nothing", {})
        late.run_at = utcnow() - timedelta(seconds=90)
        enqueue(s, "test.later", {}, delay=3600)  # not due yet
        s.add(Job(kind="test.broken", payload={}, state=JobState.dead))
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True and body["database"] == "ok" and body["redis"] == "absent"
    assert body["jobs"]["due"] == 2 and body["jobs"]["dead"] == 1
    assert 85 <= body["jobs"]["oldest_due_seconds"] < 600
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_with_nothing_queued_and_no_rate_limit(client: FlaskClient) -> None:
    for _ in range(50):  # a load balancer polls often: never 429
        response = client.get("/healthz")
        assert response.status_code == 200
    assert response.get_json()["jobs"] == {"due": 0, "dead": 0, "oldest_due_seconds": 0.0}


def _unreachable_url(tmp_path: Path) -> str:
    if BACKEND == "postgresql":
        return f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/gone?connect_timeout=2"
    return f"sqlite:///{tmp_path / 'no-such-folder' / 'gone.sqlite'}"


def test_healthz_is_503_when_the_database_does_not_answer(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    app.extensions["helpdesk.db"] = Database(_unreachable_url(tmp_path))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["ok"] is False and body["database"] == "error" and body["jobs"] is None


@pytest.fixture(autouse=True)
def _no_message_queue_left() -> Any:
    """Flask-SocketIO keeps an app's message queue on its one extension object, and later apps
    (and their test clients) would inherit it."""
    from helpdesk.extensions import socketio

    yield
    socketio.server_options.pop("client_manager", None)


@pytest.fixture
def redis_app(app_config: dict[str, Any], redis_server: Any) -> Any:
    app = create_app({**app_config, "REDIS_URL": redis_server.url})
    yield app
    db_of(app).dispose()


def test_healthz_pings_the_configured_redis(redis_app: Flask) -> None:
    response = redis_app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json()["redis"] == "ok"


def test_healthz_is_503_when_the_configured_redis_is_down(app_config: dict[str, Any]) -> None:
    app = create_app({**app_config, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["ok"] is False and body["redis"] == "error" and body["database"] == "ok"
    finally:
        db_of(app).dispose()
