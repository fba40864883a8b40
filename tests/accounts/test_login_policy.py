"""Audit findings 9 and 10: cookie flags, per-account lockout with backoff, the password rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk import create_app, db_of
from helpdesk.accounts import services
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.db import utcnow
from helpdesk.errors import Invalid
from tests.conftest import PASSWORD, csrf_token, login


def _login_cookies(client: FlaskClient, email: str) -> list[str]:
    token = csrf_token(client)
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token,
                                         "remember": "1"})
    assert answer.status_code == 302
    return answer.headers.getlist("Set-Cookie")


def test_cookies_are_secure_httponly_and_samesite_behind_https(app_config: dict[str, Any], agent: Agent) -> None:
    app = create_app({**app_config, "BASE_URL": "https://help.shop.example"})
    try:
        cookies = _login_cookies(app.test_client(), agent.email)
    finally:
        db_of(app).dispose()
    session = next(c for c in cookies if c.startswith("session="))
    remember = next(c for c in cookies if c.startswith("remember_token="))
    for cookie in (session, remember):
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_cookies_over_plain_http_are_not_marked_secure(client: FlaskClient, agent: Agent) -> None:
    remember = next(c for c in _login_cookies(client, agent.email) if c.startswith("remember_token="))
    assert "Secure" not in remember and "HttpOnly" in remember and "SameSite=Lax" in remember


def test_an_account_locks_after_five_failures_with_a_growing_wait(app: Flask, client: FlaskClient,
                                                                  agent: Agent) -> None:
    for _ in range(5):
        assert login(client, agent.email, "wrong password").status_code == 401
    # Now even the right password is refused, with the same message as for a wrong one.
    locked = login(client, agent.email)
    assert locked.status_code == 401
    text = locked.get_data(as_text=True)
    assert "Wrong email or password" in text
    unknown = login(client, "nobody@example.com", "wrong password").get_data(as_text=True)
    assert _message(text) == _message(unknown)  # locked and unknown accounts look alike
    with db_of(app).unit_of_work() as s:
        row = s.get(Agent, agent.id)
        first_wait = row.locked_until - utcnow()
        assert timedelta(seconds=20) < first_wait <= timedelta(seconds=30)
        row.locked_until = utcnow() - timedelta(seconds=1)  # the wait is over
    assert login(client, "alice@example.com", "wrong again").status_code == 401
    with db_of(app).unit_of_work() as s:
        assert s.get(Agent, agent.id).locked_until - utcnow() > timedelta(seconds=50)  # it doubled
        s.get(Agent, agent.id).locked_until = utcnow() - timedelta(seconds=1)
    assert login(client, agent.email).status_code == 302  # the right password after the wait
    with db_of(app).unit_of_work() as s:
        assert s.get(Agent, agent.id).failed_logins == 0


def test_an_admin_unlocks_a_locked_account(app: Flask, agent: Agent, admin_client: FlaskClient) -> None:
    attacker = app.test_client()
    for _ in range(5):
        login(attacker, agent.email, "wrong password")
    page = admin_client.get("/admin/agents").get_data(as_text=True)
    assert "locked" in page and 'name="unlock"' in page
    admin_client.post(f"/admin/agents/{agent.public_id}",
                      data={"csrf_token": csrf_token(admin_client, "/admin/agents"), "unlock": "1"})
    assert login(app.test_client(), agent.email).status_code == 302


def _message(html: str) -> str:
    import re

    match = re.search(r'role="alert">([^<]+)<', html)
    assert match
    return match.group(1)


@pytest.mark.parametrize(("password", "reason"), [
    ("short1", "at least 10"),
    ("password123", "too easy"),
    ("1234567890", "too easy"),
    ("Qwertyuiop", "too easy"),
    ("aaaaaaaaaaaa", "too easy"),
    ("newbie-2026-x", "too easy"),  # contains the email's local part
])
def test_weak_new_passwords_are_refused_everywhere(app: Flask, agent: Agent, password: str, reason: str) -> None:
    with db_of(app).unit_of_work() as s:
        with pytest.raises(Invalid, match=reason):
            services.create_agent(s, SYSTEM, email="newbie@example.com", password=password)
        with pytest.raises(Invalid):
            services.update_agent(s, SYSTEM, s.get(Agent, agent.id), password=password.replace("newbie", "alice"))
        with pytest.raises(Invalid):
            services.update_own_profile(s, s.get(Agent, agent.id), name="Alice",
                                        password=password.replace("newbie", "alice"))


def test_a_refused_password_changes_nothing(app: Flask, agent: Agent, admin_client: FlaskClient) -> None:
    token = csrf_token(admin_client, "/admin/agents")
    page = admin_client.post(f"/admin/agents/{agent.public_id}", data={"csrf_token": token, "password": "letmein"},
                             follow_redirects=True).get_data(as_text=True)
    assert "at least 10 characters" in page
    assert login(admin_client.application.test_client(), agent.email).status_code == 302  # old one works


def test_the_demo_password_still_logs_in_to_the_demo(app_config: dict[str, Any]) -> None:
    from helpdesk import demo

    app = create_app(app_config)
    try:
        demo.seed(app)
        assert login(app.test_client(), "agent@example.com", demo.DEMO_PASSWORD).status_code == 302
    finally:
        db_of(app).dispose()
