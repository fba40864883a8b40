"""The admin webhooks page: add, refuse a private URL, send a test and see its answer, delete."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.webhooks.models import WebhookSubscription
from tests.conftest import csrf_token
from tests.webhooks.conftest import Receiver, drain


def test_add_send_test_see_the_answer_and_delete(app: Flask, admin_client: FlaskClient, receiver: Receiver) -> None:
    token = csrf_token(admin_client, "/admin/webhooks")
    r = admin_client.post("/admin/webhooks", data={"csrf_token": token, "url": receiver.url, "active": "1",
                                                   "events": ["conversation.created", "csat.answered"]})
    assert r.status_code == 303
    with db_of(app).unit_of_work() as s:
        sub = s.scalar(select(WebhookSubscription))
        assert sub.events == ["conversation.created", "csat.answered"] and len(sub.secret) >= 16
        public_id, secret = sub.public_id, sub.secret
    html = admin_client.get(f"/admin/webhooks?id={public_id}").get_data(as_text=True)
    assert secret in html and "Send test" in html and "<script>" not in html
    admin_client.post(f"/admin/webhooks/{public_id}/test", data={"csrf_token": token})
    drain(app)
    assert json.loads(receiver.got[0]["body"])["event"] == "webhook.test"
    html = admin_client.get(f"/admin/webhooks?id={public_id}").get_data(as_text=True)
    assert "delivered" in html and "thanks" in html and ">200<" in html
    admin_client.post(f"/admin/webhooks/{public_id}/delete", data={"csrf_token": token})
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(WebhookSubscription)) is None


def test_a_private_url_is_refused_on_the_page(app: Flask, admin_client: FlaskClient) -> None:
    token = csrf_token(admin_client, "/admin/webhooks")
    r = admin_client.post("/admin/webhooks", data={"csrf_token": token, "url": "http://192.168.1.10/hook",
                                                   "events": ["conversation.created"]}, follow_redirects=True)
    assert "private" in r.get_data(as_text=True)
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(WebhookSubscription)) is None


def test_agents_cannot_open_it(agent_client: FlaskClient) -> None:
    assert agent_client.get("/admin/webhooks").status_code == 403
