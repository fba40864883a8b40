"""Audit finding 7: API tokens are listed, revoked (REST, CLI, console), expire, can be read-only,
and end with a password change or when the agent is disabled."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts import services
from helpdesk.accounts.models import Agent, ApiToken
from helpdesk.actors import SYSTEM
from helpdesk.db import utcnow
from tests.conftest import PASSWORD, ROOT, csrf_token, login


def _token(app: Flask, agent: Agent, name: str = "tests", **kwargs: object) -> str:
    with db_of(app).unit_of_work() as s:
        return services.create_api_token(s, SYSTEM, s.get(Agent, agent.id), name, **kwargs)  # type: ignore[arg-type]


def _get(client: FlaskClient, token: str, path: str = "/api/v1/tokens") -> object:
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_list_shows_the_callers_tokens_and_never_a_secret(app: Flask, client: FlaskClient, agent: Agent,
                                                          admin: Agent) -> None:
    mine = _token(app, agent, "zapier", expires_days=30)
    _token(app, agent, "reports", scope="read")
    _token(app, admin, "not yours")
    body = _get(client, mine).get_json()
    assert [t["name"] for t in body["data"]] == ["reports", "zapier"]
    zapier = body["data"][1]
    assert set(zapier) >= {"id", "name", "created_at", "last_used_at", "expires_at", "scope"}
    assert zapier["expires_at"] and zapier["last_used_at"] and zapier["scope"] == "full"
    assert body["data"][0]["scope"] == "read" and body["data"][0]["expires_at"] is None
    assert mine not in str(body)


def test_delete_revokes_at_once_and_only_the_callers_own(app: Flask, client: FlaskClient, agent: Agent,
                                                         admin: Agent) -> None:
    mine, other = _token(app, agent), _token(app, agent, "other")
    admins = _token(app, admin, "admin's")
    ids = {t["name"]: t["id"] for t in _get(client, mine).get_json()["data"]}
    admin_id = _get(client, admins).get_json()["data"][0]["id"]
    auth = {"Authorization": f"Bearer {mine}"}
    assert client.delete(f"/api/v1/tokens/{admin_id}", headers=auth).status_code == 404  # not theirs
    assert client.delete("/api/v1/tokens/not-a-number", headers=auth).status_code == 404
    assert client.delete(f"/api/v1/tokens/{ids['other']}", headers=auth).status_code == 204
    answer = _get(client, other)
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "invalid_token"
    assert _get(client, admins).status_code == 200
    assert client.delete(f"/api/v1/tokens/{ids['tests']}", headers=auth).status_code == 204  # itself
    assert _get(client, mine).status_code == 401


def test_an_expired_token_is_refused(app: Flask, client: FlaskClient, agent: Agent) -> None:
    token = _token(app, agent, expires_days=1)
    assert _get(client, token).status_code == 200
    with db_of(app).unit_of_work() as s:
        for row in s.scalars(select(ApiToken)):
            row.expires_at = utcnow() - timedelta(seconds=1)
    assert _get(client, token).status_code == 401


def test_bad_expiry_or_scope_is_refused_and_nothing_is_made(app: Flask, agent: Agent) -> None:
    import pytest

    from helpdesk.errors import Invalid

    with db_of(app).unit_of_work() as s:
        for kwargs in ({"expires_days": 0}, {"expires_days": "soon"}, {"scope": "admin"}):
            with pytest.raises(Invalid):
                services.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "x", **kwargs)  # type: ignore[arg-type]
    with db_of(app).unit_of_work() as s:
        assert s.scalars(select(ApiToken)).all() == []


def test_a_read_only_token_reads_but_cannot_change(app: Flask, client: FlaskClient, agent: Agent) -> None:
    token = _token(app, agent, scope="read")
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/conversations", headers=auth).status_code == 200
    answer = client.post("/api/v1/conversations", json={"inbox": "x", "customer": "a@b.example"}, headers=auth)
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "read_only_token"
    tid = _get(client, token).get_json()["data"][0]["id"]
    assert client.delete(f"/api/v1/tokens/{tid}", headers=auth).status_code == 403


def test_tokens_end_when_the_password_changes_or_the_agent_is_disabled(app: Flask, client: FlaskClient,
                                                                       agent: Agent) -> None:
    token = _token(app, agent)
    login(client, agent.email)
    client.post("/settings/profile", data={"csrf_token": csrf_token(client, "/settings/profile"), "name": "Alice",
                                           "current_password": PASSWORD, "new_password": "a fresh long one",
                                           "confirm_password": "a fresh long one"})
    assert _get(app.test_client(), token).status_code == 401
    second = _token(app, agent)
    with db_of(app).unit_of_work() as s:
        services.update_agent(s, SYSTEM, s.get(Agent, agent.id), active=False)
    with db_of(app).unit_of_work() as s:
        services.update_agent(s, SYSTEM, s.get(Agent, agent.id), active=True)
    assert _get(app.test_client(), second).status_code == 401  # re-enabling does not bring it back


def test_the_console_page_creates_shows_once_and_revokes(app: Flask, agent_client: FlaskClient) -> None:
    token = csrf_token(agent_client, "/settings/tokens")
    page = agent_client.post("/settings/tokens", data={"csrf_token": token, "name": "Nightly sync", "expires_days": "7",
                                                       "read_only": "1"}).get_data(as_text=True)
    secret = re.search(r'id="new-token">(hd_[^<]+)<', page).group(1)
    assert 'data-copy="#new-token"' in page and "read only" in page
    listing = agent_client.get("/settings/tokens").get_data(as_text=True)
    assert secret not in listing and "Nightly sync" in listing
    token_id = _get(app.test_client(), secret).get_json()["data"][0]["id"]
    assert agent_client.post(f"/settings/tokens/{token_id}/revoke", data={"csrf_token": token}).status_code == 303
    assert _get(app.test_client(), secret).status_code == 401
    assert "Nightly sync" not in agent_client.get("/settings/tokens").get_data(as_text=True)


def _cli(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELPDESK_DATABASE_URL": database_url, "HELPDESK_INSTANCE_PATH": str(tmp_path / "inst"),
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "helpdesk", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_command_line_creates_with_options_and_revokes(app: Flask, client: FlaskClient, agent: Agent,
                                                          database_url: str, tmp_path: Path) -> None:
    made = _cli(database_url, tmp_path, "api-token", "create", agent.email, "--expires-days", "5", "--read-only")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    token_id = re.search(r"token id (\d+)", made.stderr).group(1)
    listed = _get(client, token).get_json()["data"][0]
    assert listed["scope"] == "read" and listed["expires_at"] and str(listed["id"]) == token_id
    revoked = _cli(database_url, tmp_path, "api-token", "revoke", token_id)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert _get(client, token).status_code == 401
    again = _cli(database_url, tmp_path, "api-token", "revoke", token_id)
    assert again.returncode != 0 and "no such token" in again.stderr + again.stdout
