"""Issue 15: an admin invites an agent with a set-password link, and gives one who forgot their
password a reset link. Links work once, expire, and tampering gets nothing."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from tests.conftest import PASSWORD, csrf_token, login

NEW = "a brand new passphrase 7"


def shown_link(html: str) -> str:
    return re.search(r'<code id="shown-secret" class="break">https?://[^/]+(/set-password/[^<]+)</code>',
                     html).group(1)


def set_password(client: FlaskClient, path: str, password: str, confirm: str | None = None):
    page = client.get(path)
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    return client.post(path, data={"csrf_token": token, "password": password,
                                   "confirm": password if confirm is None else confirm})


def test_invite_link_sets_the_first_password_once(app: Flask, admin_client: FlaskClient) -> None:
    token = csrf_token(admin_client, "/admin/agents")
    page = admin_client.post("/admin/agents/invite", data={"csrf_token": token, "name": "Nina New",
                                                          "email": "nina@shop.example", "role": "agent"},
                             follow_redirects=True).get_data(as_text=True)
    assert 'data-copy="#shown-secret"' in page
    path = shown_link(page)
    guest = app.test_client()
    assert "nina@shop.example" in guest.get(path).get_data(as_text=True)
    # Bad input: a clear message, nothing set.
    assert set_password(guest, path, NEW, "something else").status_code == 422
    weak = set_password(guest, path, "password")
    assert weak.status_code == 422 and "password" in weak.get_data(as_text=True)
    done = set_password(guest, path, NEW)
    assert done.status_code == 200 and "Your password is set" in done.get_data(as_text=True)
    assert login(app.test_client(), "nina@shop.example", NEW).status_code in (302, 303)
    assert guest.get(path).status_code == 410  # used: the link is dead
    assert guest.get(path[:-3] + "xyz").status_code == 410  # tampered


def test_reset_link_replaces_a_forgotten_password(app: Flask, admin_client: FlaskClient, agent: Agent) -> None:
    token = csrf_token(admin_client, "/admin/agents")
    page = admin_client.post(f"/admin/agents/{agent.public_id}/reset-link", data={"csrf_token": token},
                             follow_redirects=True).get_data(as_text=True)
    assert "Password reset link for" in page
    path = shown_link(page)
    assert set_password(app.test_client(), path, NEW).status_code == 200
    fresh = app.test_client()
    login(fresh, agent.email, PASSWORD)
    assert fresh.get("/console").status_code == 302  # the old password is gone
    login(fresh, agent.email, NEW)
    assert fresh.get("/console").status_code == 200
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(Agent).filter_by(email=agent.email)).failed_logins == 0


def test_an_agent_cannot_make_links(agent_client: FlaskClient, agent: Agent) -> None:
    token = csrf_token(agent_client, "/console")
    assert agent_client.post(f"/admin/agents/{agent.public_id}/reset-link",
                             data={"csrf_token": token}).status_code == 403
