"""Outgoing webhooks: subscriptions by REST (admins, 422 for bad or private URLs, audited), signed
deliveries to a local receiver, the same delivery id on every retry, backoff after a 500,
Retry-After honoured, giving up after N attempts, and the delivery log."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts.models import Agent, AuditEntry
from helpdesk.actors import agent_actor
from helpdesk.jobs import Job
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation
from helpdesk.webhooks.delivery import JOB
from helpdesk.webhooks.models import WebhookSubscription
from tests.factories import make_conversation, make_inbox
from tests.rules.conftest import api_client
from tests.webhooks.conftest import Receiver, drain

SECRET = "s3cret-s3cret-s3cret"


def subscribe(admin_api: Any, url: str, events: list[str] | None = None) -> dict[str, Any]:
    r = admin_api.post("/webhooks", json={"url": url, "events": events or ["conversation.created"],
                                          "secret": SECRET})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def verify(delivered: dict[str, Any]) -> bool:
    headers, body = delivered["headers"], delivered["body"]
    expected = "sha256=" + hmac.new(SECRET.encode(), headers["X-Helpdesk-Timestamp"].encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Helpdesk-Signature"])


def test_a_new_conversation_is_delivered_signed(app: Flask, admin_api: Any, receiver: Receiver) -> None:
    sub = subscribe(admin_api, receiver.url)
    assert sub["secret"] == SECRET and sub["events"] == ["conversation.created"]
    conv = make_conversation(app, make_inbox(app)[0])
    drain(app)
    assert len(receiver.got) == 1
    got = receiver.got[0]
    assert verify(got) and got["path"] == "/hook?x=1"
    payload = json.loads(got["body"])
    assert payload["event"] == "conversation.created" == got["headers"]["X-Helpdesk-Event"]
    assert payload["id"] == got["headers"]["X-Helpdesk-Delivery"]
    assert payload["data"]["conversation"]["id"] == conv.public_id and payload["created_at"]
    log = admin_api.get(f"/webhooks/{sub['id']}/deliveries").get_json()
    assert log["next_cursor"] is None
    [entry] = log["data"]
    assert entry["state"] == "delivered" and entry["last_status"] == 200
    assert entry["tries"][0]["response_excerpt"] == "thanks"


def test_only_public_messages_and_only_subscribed_events(app: Flask, admin_api: Any, agent: Agent,
                                                         receiver: Receiver) -> None:
    subscribe(admin_api, receiver.url, ["message.created"])
    conv = make_conversation(app, make_inbox(app)[0])
    drain(app)
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        actor = agent_actor(s.get(Agent, agent.id))
        tickets.post_message(s, actor, c, body="internal only", private=True)
        tickets.post_message(s, actor, c, body="Hi Ann", private=False)
    drain(app)
    bodies = [json.loads(g["body"]) for g in receiver.got]
    assert {b["event"] for b in bodies} == {"message.created"}
    texts = [b["data"]["message"]["body"] for b in bodies]
    assert "Hi Ann" in texts and "internal only" not in texts


def test_a_500_is_retried_with_backoff_under_the_same_delivery_id(app: Flask, admin_api: Any,
                                                                 receiver: Receiver) -> None:
    sub = subscribe(admin_api, receiver.url)
    receiver.answers = [(500, {}, b"boom")]
    make_conversation(app, make_inbox(app)[0])
    drain(app)
    assert len(receiver.got) == 1
    drain(app)  # the backoff has not passed yet
    assert len(receiver.got) == 1
    drain(app, timedelta(minutes=5))
    assert len(receiver.got) == 2
    first, second = receiver.got
    assert first["headers"]["X-Helpdesk-Delivery"] == second["headers"]["X-Helpdesk-Delivery"]
    assert first["body"] == second["body"] and verify(second)
    [entry] = admin_api.get(f"/webhooks/{sub['id']}/deliveries").get_json()["data"]
    assert entry["state"] == "delivered" and entry["attempts"] == 2
    assert [t["status_code"] for t in entry["tries"]] == [500, 200] and entry["tries"][0]["response_excerpt"] == "boom"


def test_retry_after_is_honoured(app: Flask, admin_api: Any, receiver: Receiver) -> None:
    subscribe(admin_api, receiver.url)
    receiver.answers = [(503, {"Retry-After": "600"}, b"busy")]
    make_conversation(app, make_inbox(app)[0])
    drain(app)
    drain(app, timedelta(minutes=5))  # a plain backoff would have passed; the receiver's wait has not
    assert len(receiver.got) == 1
    drain(app, timedelta(minutes=11))
    assert len(receiver.got) == 2


def test_gives_up_after_the_last_attempt_and_shows_it(app: Flask, admin_api: Any, receiver: Receiver) -> None:
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 3
    sub = subscribe(admin_api, receiver.url)
    receiver.answers = [(502, {}, b"down")] * 5
    make_conversation(app, make_inbox(app)[0])
    for hours in range(6):
        drain(app, timedelta(hours=hours))
    assert len(receiver.got) == 3
    [entry] = admin_api.get(f"/webhooks/{sub['id']}/deliveries").get_json()["data"]
    assert entry["state"] == "dead" and entry["attempts"] == 3 and "gave up" in entry["last_error"]


def test_a_4xx_is_not_retried(app: Flask, admin_api: Any, receiver: Receiver) -> None:
    sub = subscribe(admin_api, receiver.url)
    receiver.answers = [(410, {}, b"gone")]
    make_conversation(app, make_inbox(app)[0])
    for hours in range(3):
        drain(app, timedelta(hours=hours))
    assert len(receiver.got) == 1
    [entry] = admin_api.get(f"/webhooks/{sub['id']}/deliveries").get_json()["data"]
    assert entry["state"] == "dead" and entry["last_status"] == 410


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://example.com/x", "events": ["conversation.created"]}, "url"),
    ({"url": "http://127.0.0.1:9/x", "events": ["conversation.created"]}, "webhook"),
    ({"url": "http://10.1.2.3/x", "events": ["conversation.created"]}, "webhook"),
    ({"url": "http://169.254.169.254/latest", "events": ["conversation.created"]}, "webhook"),
    ({"url": "http://[::1]/x", "events": ["conversation.created"]}, "webhook"),
    ({"url": "http://localhost/x", "events": ["conversation.created"]}, "webhook"),
    ({"url": "https://hooks.example.com/x", "events": ["ticket.exploded"]}, "events"),
    ({"url": "https://hooks.example.com/x", "events": []}, "events"),
    ({"url": "https://hooks.example.com/x", "events": ["conversation.created"], "secret": "short"}, "secret"),
    ({"url": "https://hooks.example.com/x", "events": ["conversation.created"], "colour": "red"}, "colour"),
])
def test_bad_input_is_a_422_and_nothing_is_stored(app: Flask, admin_api: Any, body: dict[str, Any],
                                                  field: str) -> None:
    r = admin_api.post("/webhooks", json=body)
    assert r.status_code == 422, r.get_json()
    assert field in json.dumps(r.get_json()["error"])
    with db_of(app).unit_of_work() as s:
        assert s.scalars(select(WebhookSubscription)).all() == []


def test_a_private_target_is_refused_again_at_delivery(app: Flask, admin_api: Any, receiver: Receiver) -> None:
    sub = subscribe(admin_api, receiver.url)  # stored while allowed; by delivery time it is not
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    make_conversation(app, make_inbox(app)[0])
    drain(app)
    assert receiver.got == []
    [entry] = admin_api.get(f"/webhooks/{sub['id']}/deliveries").get_json()["data"]
    assert entry["state"] == "dead" and "private address" in entry["last_error"]
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(Job).filter_by(kind=JOB)).last_error


def test_admin_only_and_audited(app: Flask, admin_api: Any, agent: Agent, receiver: Receiver) -> None:
    agent_api = api_client(app.test_client(), app, agent)
    assert agent_api.get("/webhooks").status_code == 403
    assert agent_api.post("/webhooks", json={"url": receiver.url, "events": ["csat.answered"]}).status_code == 403
    sub = subscribe(admin_api, receiver.url)
    r = admin_api.patch(f"/webhooks/{sub['id']}", json={"active": False, "events": ["csat.answered"]})
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert admin_api.patch(f"/webhooks/{sub['id']}", json={"url": "gopher://x"}).status_code == 422
    assert admin_api.get(f"/webhooks/{sub['id']}").get_json()["url"] == receiver.url
    page = admin_api.get("/webhooks").get_json()
    assert [w["id"] for w in page["data"]] == [sub["id"]] and "secret" not in page["data"][0]
    assert admin_api.delete(f"/webhooks/{sub['id']}").status_code == 204
    assert admin_api.get(f"/webhooks/{sub['id']}").status_code == 404
    with db_of(app).unit_of_work() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).filter_by(target_id=sub["id"]))]
        assert actions == ["webhook.create", "webhook.update", "webhook.delete"]
        assert SECRET not in json.dumps([e.data for e in s.scalars(select(AuditEntry))])


def test_conversation_updated_carries_the_changes(app: Flask, admin_api: Any, receiver: Receiver) -> None:
    subscribe(admin_api, receiver.url, ["conversation.updated"])
    conv = make_conversation(app, make_inbox(app)[0])
    assert admin_api.patch(f"/conversations/{conv.public_id}", json={"priority": "urgent"}).status_code == 200
    drain(app)
    [body] = [json.loads(g["body"]) for g in receiver.got]
    assert body["event"] == "conversation.updated" and body["data"]["changes"]["priority"] == ["normal", "urgent"]
    assert body["data"]["conversation"]["priority"] == "urgent"


def test_deleting_a_webhook_drops_its_pending_deliveries(app: Flask, admin_api: Any, receiver: Receiver) -> None:
    sub = subscribe(admin_api, receiver.url)
    make_conversation(app, make_inbox(app)[0])
    assert admin_api.delete(f"/webhooks/{sub['id']}").status_code == 204
    drain(app)
    assert receiver.got == []


def test_a_csat_answer_is_delivered(app: Flask, admin_api: Any, agent: Agent, receiver: Receiver) -> None:
    from helpdesk.actors import customer_actor
    from helpdesk.tickets import csat

    subscribe(admin_api, receiver.url, ["csat.answered"])
    conv = make_conversation(app, make_inbox(app)[0])
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        tickets.set_status(s, agent_actor(s.get(Agent, agent.id)), c, "resolved")
        survey = csat.create_survey(s, c)
        assert survey is not None
        csat.submit_score(s, customer_actor(c.customer), survey, 5, "Quick and kind")
    drain(app)
    [body] = [json.loads(g["body"]) for g in receiver.got]
    assert body["event"] == "csat.answered" and body["data"]["score"] == 5
    assert body["data"]["comment"] == "Quick and kind" and body["data"]["conversation"]["id"] == conv.public_id
