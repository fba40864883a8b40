"""Login, logout, CSRF, roles and disabled agents."""

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts import services
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from tests.conftest import PASSWORD, csrf_token, login


def test_login_with_right_password_opens_the_console(client: FlaskClient, agent: Agent) -> None:
    response = login(client, agent.email)
    assert response.status_code == 302 and response.headers["Location"].endswith("/console")
    page = client.get("/console")
    assert page.status_code == 200 and "Alice Agent" in page.get_data(as_text=True)


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client: FlaskClient, agent: Agent) -> None:
    response = login(client, agent.email, "wrong")
    assert response.status_code == 401
    assert "Wrong email or password" in response.get_data(as_text=True)
    assert client.get("/console").status_code == 302  # still logged out


def test_passwords_are_stored_hashed(app: Flask, agent: Agent) -> None:
    with db_of(app).unit_of_work() as s:
        stored = s.scalar(select(Agent.password_hash).filter_by(email=agent.email))
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_login_without_csrf_token_is_refused_with_the_error_shape(client: FlaskClient, agent: Agent) -> None:
    response = client.post("/login", data={"email": agent.email, "password": PASSWORD},
                           headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert client.get("/console").status_code == 302


def test_state_changing_console_form_without_csrf_changes_nothing(agent_client: FlaskClient, app: Flask) -> None:
    from tests.factories import make_conversation, make_inbox

    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    response = agent_client.post(f"/console/c/{conv.public_id}/status", data={"status": "resolved"})
    assert response.status_code == 400
    with db_of(app).unit_of_work() as s:
        assert s.get(type(conv), conv.id).status.value == "open"


def test_logout_needs_post_and_ends_the_session(agent_client: FlaskClient) -> None:
    assert agent_client.get("/logout").status_code == 405
    token = csrf_token(agent_client, "/console")
    assert agent_client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert agent_client.get("/console").status_code == 302


def test_login_redirect_only_goes_to_our_own_pages(client: FlaskClient, agent: Agent) -> None:
    token = csrf_token(client)
    response = client.post("/login", data={"email": agent.email, "password": PASSWORD, "csrf_token": token,
                                           "next": "//evil.example/phish"})
    assert response.headers["Location"].endswith("/console")


def test_agent_is_refused_a_manager_page_with_403(agent_client: FlaskClient) -> None:
    response = agent_client.get("/console/team")
    assert response.status_code == 403
    assert "manager" in response.get_data(as_text=True)


def test_manager_sees_the_team_page_but_not_admin_pages(client: FlaskClient, manager: Agent) -> None:
    login(client, manager.email)
    assert client.get("/console/team").status_code == 200
    assert client.get("/admin/agents").status_code == 403


def test_disabled_agent_cannot_log_in_and_loses_the_open_session(app: Flask, client: FlaskClient,
                                                                 agent: Agent) -> None:
    login(client, agent.email)
    assert client.get("/console").status_code == 200
    with db_of(app).unit_of_work() as s:
        services.update_agent(s, SYSTEM, s.get(Agent, agent.id), active=False)
    assert client.get("/console").status_code == 302  # the open session is gone
    assert login(client, agent.email).status_code == 401


def test_admin_creates_an_agent_from_the_admin_page(admin_client: FlaskClient, app: Flask) -> None:
    token = csrf_token(admin_client, "/admin/agents")
    response = admin_client.post("/admin/agents", data={"csrf_token": token, "name": "Nina",
                                                        "email": "nina@shop.example",
                                                        "password": "picks 7 long words", "role": "manager"})
    assert response.status_code == 303
    with db_of(app).unit_of_work() as s:
        nina = s.scalar(select(Agent).filter_by(email="nina@shop.example"))
        assert nina is not None and nina.role.value == "manager"


def test_admin_page_rejects_a_duplicate_agent_and_keeps_one(admin_client: FlaskClient, app: Flask,
                                                            agent: Agent) -> None:
    token = csrf_token(admin_client, "/admin/agents")
    admin_client.post("/admin/agents", data={"csrf_token": token, "name": "Again", "email": agent.email,
                                             "password": "another long one", "role": "agent"})
    page = admin_client.get("/admin/agents").get_data(as_text=True)
    assert "exists" in page
    with db_of(app).unit_of_work() as s:
        assert len(s.scalars(select(Agent).filter_by(email=agent.email)).all()) == 1


def test_admin_creates_inboxes_and_teams(admin_client: FlaskClient, app: Flask, agent: Agent) -> None:
    from helpdesk.tickets.models import Inbox, Team

    token = csrf_token(admin_client, "/admin/teams")
    admin_client.post("/admin/teams", data={"csrf_token": token, "name": "Returns", "members": [agent.public_id]})
    admin_client.post("/admin/inboxes", data={"csrf_token": token, "name": "Chat", "channel": "chat"})
    page = admin_client.post("/admin/inboxes", data={"csrf_token": token, "name": "Mail", "channel": "email",
                                                     "address": "help@shop.example"}, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "Ingest token of Mail" in html and 'data-copy="#shown-secret"' in html  # once, with a copy button
    assert "Ingest token of Mail" not in admin_client.get("/admin/inboxes").get_data(as_text=True)
    with db_of(app).unit_of_work() as s:
        team = s.scalar(select(Team).filter_by(name="Returns"))
        assert [m.email for m in team.members] == [agent.email]
        chat = s.scalar(select(Inbox).filter_by(name="Chat"))
        assert chat.site_key and chat.secret and len(chat.secret) >= 32
        mail = s.scalar(select(Inbox).filter_by(name="Mail"))
        assert [a.address for a in mail.addresses] == ["help@shop.example"]
        assert mail.ingest_token_hash and len(mail.ingest_token_hash) == 64


def test_agent_changes_own_password_and_other_sessions_end(app: Flask, agent: Agent) -> None:
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, agent.email)
    login(phone, agent.email)
    token = csrf_token(laptop, "/settings/profile")
    wrong = laptop.post("/settings/profile", data={"csrf_token": token, "name": "Alice", "current_password": "nope",
                                                   "new_password": "new pass word",
                                                   "confirm_password": "new pass word"},
                        follow_redirects=True)
    assert "not your current password" in wrong.get_data(as_text=True)
    laptop.post("/settings/profile", data={"csrf_token": token, "name": "Alice A.", "current_password": PASSWORD,
                                           "new_password": "new pass word", "confirm_password": "new pass word"})
    assert laptop.get("/console").status_code == 200  # this device stays in
    assert phone.get("/console").status_code == 302  # the other one is logged out
    assert login(phone, agent.email, "new pass word").status_code == 302
    with db_of(app).unit_of_work() as s:
        assert s.get(Agent, agent.id).name == "Alice A."


def test_the_password_check_holds_no_transaction(client: FlaskClient, agent: Agent, database_url: str,
                                                 monkeypatch) -> None:
    """A password hash is ~70 ms of CPU; checked inside the login's transaction it held SQLite's
    write lock that long, and every agent's chat message waited behind it (bench/stall.py)."""
    from tests.txprobe import WriteProbe

    probe = WriteProbe(database_url)
    real = services.check_password_hash

    def checked(hashed: str, password: str) -> bool:
        probe.check()
        return real(hashed, password)

    monkeypatch.setattr(services, "check_password_hash", checked)
    assert login(client, agent.email, "wrong").status_code == 401
    assert login(client, agent.email).status_code == 302
    probe.assert_never_held()
    with db_of(client.application).unit_of_work() as s:  # the failure was still counted, then reset
        assert s.scalar(select(Agent.failed_logins).filter_by(email=agent.email)) == 0
