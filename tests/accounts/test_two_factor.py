"""Two-factor login: TOTP set-up from the profile, the second login step, recovery codes, the
half-logged-in state, and roles that require it."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from tests.chat.conftest import Clients
from tests.conftest import PASSWORD, csrf_token, login


def _setup(client: FlaskClient) -> tuple[str, list[str]]:
    """Turn two-factor login on through the pages; returns the secret and the recovery codes."""
    token = csrf_token(client, "/settings/two-factor")
    started = client.post("/settings/two-factor/start", data={"csrf_token": token}, follow_redirects=True)
    page = started.get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert "otpauth://totp/" in page and '<div class="qr" id="totp-qr"><svg' in page
    wrong = client.post("/settings/two-factor/confirm", data={"csrf_token": token, "code": "000000"},
                        follow_redirects=True)
    assert "not right" in wrong.get_data(as_text=True)
    done = client.post("/settings/two-factor/confirm", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    codes = re.search(r'id="recovery-codes">([^<]+)<', done.get_data(as_text=True)).group(1).split()
    assert len(codes) == 10
    return secret, codes


def _code_step(client: FlaskClient, code: str) -> object:
    return client.post("/login/code", data={"csrf_token": csrf_token(client, "/login/code"), "code": code})


def _next_code(secret: str) -> str:
    """A code of a time step not used yet (each code works once)."""
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + 30)


def test_login_asks_for_the_code_after_the_password(app: Flask, agent_client: FlaskClient, agent: Agent) -> None:
    secret, _codes = _setup(agent_client)
    with db_of(app).unit_of_work() as s:
        row = s.get(Agent, agent.id)
        assert row.totp_enabled_at is not None and all(len(h) == 64 for h in row.recovery_codes)
    fresh = app.test_client()
    first = login(fresh, agent.email)
    assert first.status_code == 302 and first.headers["Location"].endswith("/login/code")
    assert fresh.get("/console").status_code == 302  # half logged in: no console
    assert _code_step(fresh, "123456").status_code == 401
    ok = _code_step(fresh, _next_code(secret))
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/console")
    assert fresh.get("/console").status_code == 200


def test_a_totp_code_works_only_once(app: Flask, agent_client: FlaskClient, agent: Agent) -> None:
    secret, _ = _setup(agent_client)
    code = _next_code(secret)
    one, two = app.test_client(), app.test_client()
    login(one, agent.email)
    login(two, agent.email)
    assert _code_step(one, code).status_code == 302
    assert _code_step(two, code).status_code == 401  # replayed


def test_a_recovery_code_works_once(app: Flask, agent_client: FlaskClient, agent: Agent) -> None:
    _, codes = _setup(agent_client)
    first = app.test_client()
    login(first, agent.email)
    assert _code_step(first, codes[0].upper()).status_code == 302
    second = app.test_client()
    login(second, agent.email)
    assert _code_step(second, codes[0]).status_code == 401
    with db_of(app).unit_of_work() as s:
        assert len(s.get(Agent, agent.id).recovery_codes) == 9


def test_the_code_step_needs_its_csrf_token(app: Flask, agent_client: FlaskClient, agent: Agent) -> None:
    secret, _ = _setup(agent_client)
    fresh = app.test_client()
    login(fresh, agent.email)
    answer = fresh.post("/login/code", data={"code": _next_code(secret)}, headers={"Accept": "application/json"})
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "csrf_failed"
    assert fresh.get("/console").status_code == 302


def test_wrong_codes_count_towards_the_lockout(app: Flask, agent_client: FlaskClient, agent: Agent) -> None:
    secret, _ = _setup(agent_client)
    fresh = app.test_client()
    login(fresh, agent.email)
    for _ in range(5):
        assert _code_step(fresh, "000000").status_code == 401
    with db_of(app).unit_of_work() as s:
        assert s.get(Agent, agent.id).locked_until is not None
    # Locked: the password step refuses, so no code can be tried (not even the right one).
    assert login(fresh, agent.email).status_code == 401
    assert fresh.get("/login/code").status_code == 302
    assert secret


def test_the_half_logged_in_state_cannot_open_a_console_socket(app: Flask, agent_client: FlaskClient,
                                                               agent: Agent, clients: Clients) -> None:
    _setup(agent_client)
    fresh = app.test_client()
    login(fresh, agent.email)
    socket = clients.console(fresh)
    assert not socket.is_connected("/console")


def test_turning_it_off_needs_the_password_or_a_code(app: Flask, agent_client: FlaskClient, agent: Agent) -> None:
    _setup(agent_client)
    token = csrf_token(agent_client, "/settings/two-factor")
    refused = agent_client.post("/settings/two-factor/disable", data={"csrf_token": token, "password": "nope"},
                                follow_redirects=True)
    assert "Enter your password" in refused.get_data(as_text=True)
    agent_client.post("/settings/two-factor/disable", data={"csrf_token": token, "password": PASSWORD})
    with db_of(app).unit_of_work() as s:
        row = s.get(Agent, agent.id)
        assert row.totp_enabled_at is None and row.totp_secret is None and row.recovery_codes == []
    assert login(app.test_client(), agent.email).headers["Location"].endswith("/console")


def test_requiring_it_closes_the_open_consoles_of_that_role(app: Flask, client: FlaskClient, agent: Agent,
                                                           admin: Agent, clients: Clients) -> None:
    login(client, agent.email)
    console = clients.console(client)
    assert console.is_connected("/console")
    admin_http = app.test_client()
    login(admin_http, admin.email)
    admin_http.post("/admin/security", data={"csrf_token": csrf_token(admin_http, "/admin/agents"),
                                             "two_factor_roles": ["agent"]})
    assert not console.is_connected("/console")
    assert not clients.console(client).is_connected("/console")


@pytest.fixture
def required_for_agents(app: Flask, admin: Agent) -> None:
    admin_http = app.test_client()
    login(admin_http, admin.email)
    token = csrf_token(admin_http, "/admin/agents")
    admin_http.post("/admin/security", data={"csrf_token": token, "two_factor_roles": ["agent"]})
    assert 'value="agent" checked' in admin_http.get("/admin/agents").get_data(as_text=True)


def test_a_role_that_requires_it_is_sent_to_set_up_first(app: Flask, client: FlaskClient, agent: Agent,
                                                         required_for_agents: None, clients: Clients,
                                                         site: str) -> None:
    login(client, agent.email)
    page = client.get("/console")
    assert page.status_code == 302 and page.headers["Location"].endswith("/settings/two-factor")
    assert client.get("/console/customers").headers["Location"].endswith("/settings/two-factor")
    assert client.get(f"/widget/frame?site={site}").status_code == 200  # shoppers' pages are not gated
    socket = clients.console(client)
    assert not socket.is_connected("/console")  # no live feed before the set-up either
    secret, _ = _setup(client)
    assert client.get("/console").status_code == 200
    assert clients.console(client).is_connected("/console")
    token = csrf_token(client, "/settings/two-factor")
    client.post("/settings/two-factor/disable", data={"csrf_token": token, "password": PASSWORD})
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(Agent.totp_enabled_at).filter_by(id=agent.id)) is not None  # required: stays on
    assert secret


def test_api_tokens_work_unchanged_with_two_factor(app: Flask, agent_client: FlaskClient, agent: Agent) -> None:
    from helpdesk.accounts import services
    from helpdesk.actors import SYSTEM

    _setup(agent_client)
    with db_of(app).unit_of_work() as s:
        token = services.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "ci")
    answer = app.test_client().get("/api/v1/conversations", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
