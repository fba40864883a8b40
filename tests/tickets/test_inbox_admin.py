"""Issue 15: inboxes can be edited after they exist: name, team, address, a new ingest token
(shown once with a copy button), and delete, refused while the inbox holds conversations."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts.models import AuditEntry
from helpdesk.actors import SYSTEM
from helpdesk.tickets import services
from helpdesk.tickets.models import Inbox
from tests.conftest import csrf_token
from tests.factories import make_conversation, make_inbox


def test_edit_an_inbox_make_a_new_token_and_delete_only_when_empty(app: Flask, admin_client: FlaskClient) -> None:
    inbox, old_token = make_inbox(app, name="Mail", channel="email", address="help@shop.example")
    with db_of(app).unit_of_work() as s:
        team = services.create_team(s, SYSTEM, name="Returns", members=[])
        team_id = team.public_id
    token = csrf_token(admin_client, "/admin/inboxes")
    base = f"/admin/inboxes/{inbox.public_id}"
    page = admin_client.get("/admin/inboxes").get_data(as_text=True)
    assert f'action="{base}"' in page and f'action="{base}/delete"' in page and f'action="{base}/token"' in page

    admin_client.post(base, data={"csrf_token": token, "name": "Support mail", "team": team_id,
                                  "address": "Support@Shop.example"})
    with db_of(app).unit_of_work() as s:
        got = s.get(Inbox, inbox.id)
        assert (got.name, got.team.name, [a.address for a in got.addresses]) == (
            "Support mail", "Returns", ["support@shop.example"])
    # Bad input: a clear message, nothing changed.
    bad = admin_client.post(base, data={"csrf_token": token, "name": " "}, follow_redirects=True)
    assert "name: 1 to 120 characters" in bad.get_data(as_text=True)
    with db_of(app).unit_of_work() as s:
        assert s.get(Inbox, inbox.id).name == "Support mail"

    shown = admin_client.post(f"{base}/token", data={"csrf_token": token}, follow_redirects=True)
    html = shown.get_data(as_text=True)
    new_token = re.search(r'<code id="shown-secret" class="break">(ing_[\w-]+)</code>', html).group(1)
    assert new_token != old_token and 'data-copy="#shown-secret"' in html
    with db_of(app).unit_of_work() as s:
        assert services.inbox_for_ingest_token(s, new_token).id == inbox.id
        assert services.inbox_for_ingest_token(s, old_token) is None  # the old one stopped at once

    make_conversation(app, inbox)
    refused = admin_client.post(f"{base}/delete", data={"csrf_token": token}, follow_redirects=True)
    assert "still holds 1 conversation" in refused.get_data(as_text=True)
    with db_of(app).unit_of_work() as s:
        assert s.get(Inbox, inbox.id) is not None

    empty, _ = make_inbox(app, name="Typo", channel="chat")
    admin_client.post(f"/admin/inboxes/{empty.public_id}/delete", data={"csrf_token": token})
    with db_of(app).unit_of_work() as s:
        assert s.get(Inbox, empty.id) is None
        actions = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.action.like("inbox.%")))]
        assert {"inbox.update", "inbox.token", "inbox.delete"} <= set(actions)


def test_agents_cannot_edit_inboxes(app: Flask, agent_client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    token = csrf_token(agent_client, "/console")
    assert agent_client.post(f"/admin/inboxes/{inbox.public_id}/delete", data={"csrf_token": token}).status_code == 403
