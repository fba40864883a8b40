"""Managing webhook subscriptions (admins), every change in the audit log, and reading the log."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit, require
from helpdesk.actors import Actor
from helpdesk.db import MAX_INT
from helpdesk.errors import Invalid, NotFound
from helpdesk.tickets.rules import webhook as transport
from helpdesk.tickets.serialize import iso
from helpdesk.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

EVENTS = ("conversation.created", "conversation.updated", "message.created", "csat.answered")
FIELDS = {"url", "events", "secret", "active", "description"}
MAX_PER_PAGE = 100


def clean(data: Mapping[str, Any], settings: Mapping[str, Any],
          current: WebhookSubscription | None = None) -> dict[str, Any]:
    """Everything is checked before anything is stored: one bad field refuses the lot (422)."""
    if not isinstance(data, Mapping):
        raise Invalid("body", "a JSON object")
    if unknown := set(data) - FIELDS:
        raise Invalid(sorted(unknown)[0], f"not a webhook field; use {', '.join(sorted(FIELDS))}")
    values: dict[str, Any] = {}
    if "url" in data or current is None:
        values["url"] = transport.check_url(data.get("url"), settings)
    if "events" in data or current is None:
        events = data.get("events")
        if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
            raise Invalid("events", f"a list of one or more of {', '.join(EVENTS)}")
        if unknown_events := [e for e in events if e not in EVENTS]:
            raise Invalid("events", f"{unknown_events[0]} is not one of {', '.join(EVENTS)}", code="unknown_event")
        values["events"] = list(dict.fromkeys(events))
    if "secret" in data or current is None:
        secret = data.get("secret")
        if secret is None or secret == "":
            secret = secrets.token_hex(24) if current is None else current.secret
        if not isinstance(secret, str) or not 16 <= len(secret) <= 200:
            raise Invalid("secret", "16 to 200 characters (leave it out to have one made)")
        values["secret"] = secret
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise Invalid("active", "true or false")
        values["active"] = data["active"]
    if "description" in data:
        if not isinstance(data["description"], str) or len(data["description"]) > 200:
            raise Invalid("description", "at most 200 characters")
        values["description"] = data["description"].strip()
    return values


def create(session: Session, actor: Actor, data: Mapping[str, Any], settings: Mapping[str, Any]) -> WebhookSubscription:
    require(actor, Role.admin)
    sub = WebhookSubscription(**clean(data, settings))
    session.add(sub)
    session.flush()
    audit(session, actor, "webhook.create", "webhook", sub.public_id, url=sub.url, events=sub.events)
    return sub


def update(session: Session, actor: Actor, sub: WebhookSubscription, data: Mapping[str, Any],
           settings: Mapping[str, Any]) -> WebhookSubscription:
    require(actor, Role.admin)
    values = clean(data, settings, sub)
    before = subscription_dict(sub)
    for key, value in values.items():
        setattr(sub, key, value)
    session.flush()
    after = subscription_dict(sub)
    changes = {k: [before[k], after[k]] for k in after if k != "updated_at" and before[k] != after[k]}
    if "secret" in changes:
        changes["secret"] = ["…", "…"]  # the audit log never carries the secret
    audit(session, actor, "webhook.update", "webhook", sub.public_id, changes=changes)
    return sub


def delete(session: Session, actor: Actor, sub: WebhookSubscription) -> None:
    require(actor, Role.admin)
    audit(session, actor, "webhook.delete", "webhook", sub.public_id, url=sub.url)
    session.delete(sub)
    session.flush()


def get(session: Session, actor: Actor, public_id: str) -> WebhookSubscription:
    require(actor, Role.admin)
    sub = session.scalar(select(WebhookSubscription).filter_by(public_id=public_id))
    if sub is None:
        raise NotFound("no such webhook")
    return sub


def page(session: Session, actor: Actor, *, limit: int,
         cursor: str | None) -> tuple[list[WebhookSubscription], str | None]:
    require(actor, Role.admin)
    query = select(WebhookSubscription).order_by(WebhookSubscription.id).limit(limit + 1)
    if cursor:
        query = query.where(WebhookSubscription.id > _cursor(cursor))
    rows = list(session.scalars(query))
    return rows[:limit], str(rows[limit - 1].id) if len(rows) > limit else None


def deliveries(session: Session, sub: WebhookSubscription, *, limit: int,
               cursor: str | None) -> tuple[list[WebhookDelivery], str | None]:
    """Newest first."""
    query = (select(WebhookDelivery).filter_by(subscription_id=sub.id).order_by(WebhookDelivery.id.desc())
             .limit(limit + 1))
    if cursor:
        query = query.where(WebhookDelivery.id < _cursor(cursor))
    rows = list(session.scalars(query))
    return rows[:limit], str(rows[limit - 1].id) if len(rows) > limit else None


def _cursor(value: str) -> int:
    if not value.isdigit() or int(value) > MAX_INT:
        raise Invalid("cursor", "not a cursor this API gave out")
    return int(value)


def subscription_dict(sub: WebhookSubscription, *, with_secret: bool = False) -> dict[str, Any]:
    data = {"id": sub.public_id, "url": sub.url, "events": list(sub.events), "active": sub.active,
            "description": sub.description, "created_at": iso(sub.created_at), "updated_at": iso(sub.updated_at)}
    if with_secret:
        data["secret"] = sub.secret
    return data


def attempt_dict(attempt: WebhookAttempt) -> dict[str, Any]:
    return {"number": attempt.number, "status_code": attempt.status_code, "duration_ms": attempt.duration_ms,
            "error": attempt.error, "response_excerpt": attempt.response_excerpt, "at": iso(attempt.at)}


def delivery_dict(delivery: WebhookDelivery) -> dict[str, Any]:
    return {"id": delivery.public_id, "event": delivery.event, "state": delivery.state,
            "attempts": delivery.attempts, "last_status": delivery.last_status, "last_error": delivery.last_error,
            "created_at": iso(delivery.created_at), "finished_at": iso(delivery.finished_at),
            "tries": [attempt_dict(a) for a in delivery.tries]}
