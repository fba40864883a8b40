"""Canned replies: managers keep them, agents insert them with the customer's name filled in."""

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.actors import agent_actor
from helpdesk.errors import Conflict, Forbidden, Invalid
from helpdesk.tickets import canned
from helpdesk.tickets.models import CannedReply
from tests.conftest import csrf_token, login
from tests.factories import make_conversation, make_inbox


def test_manager_saves_and_agent_sees_it_filled_in_on_the_conversation(app: Flask, client: FlaskClient,
                                                                        manager: Agent, agent: Agent) -> None:
    login(client, manager.email)
    token = csrf_token(client, "/console/canned")
    client.post("/console/canned", data={"csrf_token": token, "shortcut": "ship", "title": "Shipping",
                                         "body": "Hi {{ customer.first_name }}, it ships today. - {{ agent.name }}"})
    client.post("/logout", data={"csrf_token": token})
    login(client, agent.email)
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox, name="Ann Lee")
    html = client.get(f"/console/c/{conv.public_id}").get_data(as_text=True)
    assert "Hi Ann, it ships today. - Alice Agent" in html and 'data-shortcut="ship"' in html


def test_agents_cannot_change_canned_replies(app: Flask, agent_client: FlaskClient) -> None:
    token = csrf_token(agent_client, "/console/canned")
    response = agent_client.post("/console/canned", data={"csrf_token": token, "shortcut": "x", "title": "X",
                                                          "body": "y"})
    assert response.status_code == 403
    with db_of(app).unit_of_work() as s:
        assert s.scalars(select(CannedReply)).all() == []
        with pytest.raises(Forbidden):
            canned.save_canned_reply(s, agent_actor(s.get(Agent, 1)), shortcut="x", title="X", body="y")


@pytest.mark.parametrize(("shortcut", "title", "body", "error"), [
    ("Has Space", "T", "B", Invalid), ("", "T", "B", Invalid), ("ok", "", "B", Invalid), ("ok", "T", " ", Invalid),
])
def test_bad_canned_replies_are_refused(app: Flask, manager: Agent, shortcut: str, title: str, body: str,
                                        error: type) -> None:
    with db_of(app).unit_of_work() as s, pytest.raises(error):
        canned.save_canned_reply(s, agent_actor(manager), shortcut=shortcut, title=title, body=body)


def test_shortcuts_are_unique(app: Flask, manager: Agent) -> None:
    with db_of(app).unit_of_work() as s:
        canned.save_canned_reply(s, agent_actor(manager), shortcut="ship", title="A", body="a")
    with db_of(app).unit_of_work() as s, pytest.raises(Conflict):
        canned.save_canned_reply(s, agent_actor(manager), shortcut="SHIP", title="B", body="b")


def test_unknown_placeholders_are_left_as_typed(app: Flask) -> None:
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    with db_of(app).unit_of_work() as s:
        from helpdesk.tickets.models import Conversation

        c = s.get(Conversation, conv.id)
        text = canned.render("Hello {{customer.name}} {{ order.total }} #{{conversation.ref}}", c, "Sam")
        assert text == f"Hello there {{{{ order.total }}}} #{c.ref}"
