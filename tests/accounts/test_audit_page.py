"""Issue 15: the audit log read as a person reads it (names, words, links, no raw JSON or ids),
with filters by actor, action and dates, and paging."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts import audit_view
from helpdesk.accounts.models import Agent, AuditEntry
from helpdesk.db import utcnow
from tests.conftest import csrf_token
from tests.factories import make_inbox


def test_the_audit_log_names_things_in_words_with_links_and_filters(
        app: Flask, admin_client: FlaskClient, admin: Agent, agent: Agent) -> None:
    inbox, _ = make_inbox(app, name="Web chat")
    token = csrf_token(admin_client, "/admin/inboxes")
    admin_client.post(f"/admin/inboxes/{inbox.public_id}", data={"csrf_token": token, "name": "Shop chat"})
    admin_client.post(f"/admin/agents/{agent.public_id}", data={"csrf_token": token, "role": "manager"})
    html = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "updated inbox" in html and '<a href="/admin/inboxes">inbox Shop chat</a>' in html
    assert f"{agent.name} ({agent.email})" in html and "role: agent → manager" in html
    assert "name: Web chat → Shop chat" in html
    assert inbox.public_id not in html.replace(f'title="inbox {inbox.public_id}"', "")  # no raw id shown
    assert "{&#34;" not in html and '{"changes"' not in html  # no JSON dump

    only_agents = admin_client.get("/admin/audit?action=agent.update").get_data(as_text=True)
    assert "updated agent" in only_agents and "updated inbox</td>" not in only_agents
    by_admin = admin_client.get(f"/admin/audit?actor={admin.public_id}").get_data(as_text=True)
    assert "updated inbox" in by_admin
    by_agent = admin_client.get(f"/admin/audit?actor={agent.public_id}").get_data(as_text=True)
    assert "matches these filters" in by_agent
    today = utcnow().date()
    assert "updated inbox" in admin_client.get(f"/admin/audit?from={today}&to={today}").get_data(as_text=True)
    tomorrow = today + timedelta(days=1)
    assert "matches these filters" in admin_client.get(f"/admin/audit?from={tomorrow}").get_data(as_text=True)
    bad = admin_client.get("/admin/audit?from=yesterday")
    assert bad.status_code == 422 and "from: a date as YYYY-MM-DD" in bad.get_data(as_text=True)


def test_the_audit_log_pages_by_fifty(app: Flask, admin_client: FlaskClient) -> None:
    with db_of(app).unit_of_work() as s:
        for i in range(audit_view.PAGE + 5):
            s.add(AuditEntry(actor_type="system", actor_name="", action="job.retry", target_type="job",
                             target_id=str(i), data={"kind": f"k{i}"}))
    first = admin_client.get("/admin/audit?action=job.retry").get_data(as_text=True)
    assert first.count('data-action="job.retry"') == audit_view.PAGE and "Older »" in first
    before = first.split("before=")[1].split('"')[0].split("&")[0]
    second = admin_client.get(f"/admin/audit?action=job.retry&before={before}").get_data(as_text=True)
    assert second.count('data-action="job.retry"') == 5 and "retried job" in second and "kind: k0" in second
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(AuditEntry.id).order_by(AuditEntry.id).limit(1)) is not None


def test_action_words() -> None:
    assert audit_view.words("inbox.delete") == "deleted inbox"
    assert audit_view.words("api_token.create") == "created API token"
    assert audit_view.words("something.new_thing") == "something new thing"
