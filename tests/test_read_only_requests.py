"""GET requests read in read-only transactions (issue 10): on SQLite a page view takes no write
lock, so it neither waits for a writer of another process (the worker writing a CRM page) nor
holds one up (an agent's chat message) for the length of its rendering."""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import make_url, select, text

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent, ApiToken
from helpdesk.actors import SYSTEM
from helpdesk.db import ReadOnlyWrite, utcnow
from tests.conftest import BACKEND, login
from tests.factories import make_conversation, make_inbox


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # Short, so a request that waits for the write lock fails fast instead of after 30 s.
    return {**app_config, "SQLITE_BUSY_SECONDS": 1.0}


def _token(app: Flask, agent: Agent) -> str:
    with db_of(app).unit_of_work() as s:
        return accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "tests", scope="read")


@pytest.mark.skipif(BACKEND != "sqlite", reason="the write lock is SQLite's")
def test_pages_answer_while_another_process_holds_the_write_lock(app: Flask, client: FlaskClient,
                                                                 manager: Agent) -> None:
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox, body="Where is order 1001?")
    token = _token(app, manager)
    bearer = {"Authorization": f"Bearer {token}"}
    assert login(client, manager.email).status_code == 302
    assert client.get("/api/v1/conversations", headers=bearer).status_code == 200  # stamps the token

    pages = ["/console", "/console?status=resolved", f"/console/c/{conv.public_id}", "/console/customers",
             f"/console/customers/{conv.customer.public_id}", "/reports", "/api/v1/conversations",
             f"/api/v1/conversations/{conv.public_id}/messages"]
    lock = sqlite3.connect(make_url(db_of(app).url).database or "", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        for page in pages:
            started = time.monotonic()
            response = client.get(page, headers=bearer if page.startswith("/api/") else {})
            took = time.monotonic() - started
            assert response.status_code == 200, (page, response.status_code, response.get_data(as_text=True)[:300])
            assert took < 0.9, f"{page} waited {took:.2f} s for the write lock"
    finally:
        lock.execute("ROLLBACK")
        lock.close()


def test_a_write_in_a_read_only_session_is_refused_and_changes_nothing(app: Flask, agent: Agent) -> None:
    database = db_of(app)
    reader = database.reading()
    try:
        assert reader.scalar(select(Agent.name).where(Agent.id == agent.id)) == agent.name
        with pytest.raises(ReadOnlyWrite, match="read-only transaction"):
            reader.execute(text("UPDATE agents SET name = 'Changed' WHERE id = :id"), {"id": agent.id})
        reader.rollback()
        row = reader.get(Agent, agent.id)
        assert row is not None
        row.name = "Changed by the ORM"
        with pytest.raises(ReadOnlyWrite):
            reader.flush()
    finally:
        reader.rollback()
        reader.close()
    with database.unit_of_work() as s:
        assert s.scalar(select(Agent.name).where(Agent.id == agent.id)) == agent.name


def test_api_token_use_is_stamped_at_most_once_a_minute(app: Flask, client: FlaskClient, agent: Agent) -> None:
    bearer = {"Authorization": f"Bearer {_token(app, agent)}"}

    def last_used() -> Any:
        with db_of(app).unit_of_work() as s:
            return s.scalar(select(ApiToken.last_used_at))

    assert last_used() is None
    assert client.get("/api/v1/conversations", headers=bearer).status_code == 200
    first = last_used()
    assert first is not None and abs((utcnow() - first).total_seconds()) < 60
    assert client.get("/api/v1/conversations", headers=bearer).status_code == 200
    assert last_used() == first  # within the minute: no second write

    with db_of(app).unit_of_work() as s:
        s.execute(ApiToken.__table__.update().values(last_used_at=first - timedelta(minutes=5)))
    assert client.get("/api/v1/tokens", headers=bearer).status_code == 200
    assert last_used() > first - timedelta(minutes=1)
