"""From ticket events to deliveries: a row per (event, subscription) written in the change's own
transaction with its job, then the worker POSTs it (read, network with no transaction, write)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.configured import configured
from helpdesk.db import utcnow
from helpdesk.jobs import Permanent, RetryLater
from helpdesk.runtime import JobContext, Runtime
from helpdesk.tickets.events import ConversationCreated, ConversationUpdated, CsatAnswered, MessagePosted
from helpdesk.tickets.models import Conversation, Message
from helpdesk.tickets.rules import webhook as transport
from helpdesk.tickets.serialize import conversation_dict, iso, message_dict
from helpdesk.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

JOB = "webhooks.deliver"
TIMEOUT_SECONDS = 10.0
TEST_EVENT = "webhook.test"
RETRY_STATUSES = {408, 425, 429}  # and every 5xx


def _plain(value: Any) -> Any:
    """Event data as plain JSON (enums and datetimes of `changes` become strings)."""
    return json.loads(json.dumps(value, default=lambda v: getattr(v, "value", None) or str(v)))


def enqueue(session: Session, event: str, data: dict[str, Any], settings: Any,
            only: WebhookSubscription | None = None) -> list[WebhookDelivery]:
    subs = [only] if only is not None else [
        s for s in session.scalars(select(WebhookSubscription).filter_by(active=True)) if event in s.events]
    made = []
    for sub in subs:
        delivery = WebhookDelivery(subscription_id=sub.id, event=event, body={})
        session.add(delivery)
        session.flush()  # the public id is the body's id and the X-Helpdesk-Delivery header
        delivery.body = {"id": delivery.public_id, "event": event, "created_at": iso(utcnow()), "data": data}
        max_attempts = int(settings.get("WEBHOOK_MAX_ATTEMPTS") or 8)
        # A couple over ours: the delivery row decides when to give up; the job's own count only
        # stops a delivery whose worker keeps dying.
        jobs.enqueue(session, JOB, {"delivery": delivery.public_id}, max_attempts=max_attempts + 2)
        made.append(delivery)
    return made


def _any_subscriber(session: Session, event: str) -> bool:
    return any(event in s.events for s in session.scalars(select(WebhookSubscription).filter_by(active=True)))


def init_app(runtime: Runtime) -> None:
    settings = runtime.settings
    subscriptions = configured(runtime)
    subscriptions.watch(runtime.db.sessions, WebhookSubscription)

    def _has_subscribers(session: Session, event: str) -> bool:
        return subscriptions.has(session, f"webhooks:{event}", lambda s: _any_subscriber(s, event))

    def created(session: Session, ev: ConversationCreated) -> None:
        if _has_subscribers(session, "conversation.created"):
            conv = session.get(Conversation, ev.conversation_id)
            if conv is not None:
                enqueue(session, "conversation.created", {"conversation": conversation_dict(conv, for_agent=True)},
                        settings)

    def updated(session: Session, ev: ConversationUpdated) -> None:
        if _has_subscribers(session, "conversation.updated"):
            conv = session.get(Conversation, ev.conversation_id)
            if conv is not None:
                enqueue(session, "conversation.updated", {"conversation": conversation_dict(conv, for_agent=True),
                                                          "changes": _plain(ev.changes)}, settings)

    def posted(session: Session, ev: MessagePosted) -> None:
        if ev.private or not _has_subscribers(session, "message.created"):
            return  # private notes stay inside the team
        message = session.get(Message, ev.message_id)
        if message is not None:
            enqueue(session, "message.created", {
                "conversation": conversation_dict(message.conversation, for_agent=True),
                "message": message_dict(message)}, settings)

    def answered(session: Session, ev: CsatAnswered) -> None:
        if _has_subscribers(session, "csat.answered"):
            conv = session.get(Conversation, ev.conversation_id)
            if conv is not None:
                enqueue(session, "csat.answered", {"conversation": {"id": conv.public_id, "ref": conv.ref},
                                                   "score": ev.score, "comment": ev.comment}, settings)

    runtime.events.subscribe_in_transaction(ConversationCreated, created)
    runtime.events.subscribe_in_transaction(ConversationUpdated, updated)
    runtime.events.subscribe_in_transaction(MessagePosted, posted)
    runtime.events.subscribe_in_transaction(CsatAnswered, answered)
    runtime.jobs.register(JOB, deliver_job)


def deliver_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    with ctx.db.unit_of_work() as s:  # read
        delivery = s.scalar(select(WebhookDelivery).filter_by(public_id=payload["delivery"]))
        if delivery is None or delivery.state != "pending":
            return  # deleted with its subscription, or already settled (a job run twice)
        sub = delivery.subscription
        url, secret, event, body = sub.url, sub.secret, delivery.event, delivery.body
        active = sub.active or event == TEST_EVENT
    if not active:
        _settle(ctx, payload["delivery"], None, "the webhook was turned off", dead=True)
        return
    raw = json.dumps(body, separators=(",", ":")).encode()
    try:  # the network, with no transaction open
        answer = transport.signed_post(url, event=event, delivery_id=payload["delivery"], body=raw, secret=secret,
                                       settings=ctx.settings, timeout=TIMEOUT_SECONDS)
    except Permanent as exc:  # a private address after DNS, or a name that does not resolve
        _settle(ctx, payload["delivery"], transport.Answer(None, 0, error=str(exc)), str(exc), dead=True)
        raise
    if answer.status is not None and 200 <= answer.status < 300:
        _settle(ctx, payload["delivery"], answer, None, delivered=True)
        return
    retryable = answer.status is None or answer.status >= 500 or answer.status in RETRY_STATUSES
    error = answer.error or f"answered {answer.status}"
    attempts = _settle(ctx, payload["delivery"], answer, error, dead=not retryable, retryable=retryable)
    if not retryable:
        raise Permanent(f"webhook {error}")
    if attempts is None:
        raise Permanent(f"webhook gave up: {error}")
    if answer.retry_after is not None:
        raise RetryLater(answer.retry_after, f"webhook {error}; Retry-After {answer.retry_after:.0f} s")
    raise RuntimeError(f"webhook {error}")  # the worker retries with backoff


def _settle(ctx: JobContext, public_id: str, answer: transport.Answer | None, error: str | None, *,
            delivered: bool = False, dead: bool = False, retryable: bool = False) -> int | None:
    """Record the attempt (write). Returns the attempts so far, or None when that was the last."""
    if ctx.lease_lost:
        return None
    max_attempts = int(ctx.settings.get("WEBHOOK_MAX_ATTEMPTS") or 8)
    with ctx.db.unit_of_work() as s:
        delivery = s.scalar(select(WebhookDelivery).filter_by(public_id=public_id))
        if delivery is None:
            return None
        now = ctx.now()
        if answer is not None:
            delivery.attempts += 1
            s.add(WebhookAttempt(delivery_id=delivery.id, number=delivery.attempts, status_code=answer.status,
                                 duration_ms=answer.duration_ms, error=(answer.error or None) and answer.error[:500],
                                 response_excerpt=answer.excerpt[:transport.EXCERPT_BYTES], at=now))
            delivery.last_status = answer.status
        delivery.last_error = error[:500] if error else None
        if retryable and delivery.attempts >= max_attempts:
            dead = True
            delivery.last_error = f"gave up after {delivery.attempts} attempts: {error}"[:500]
        if delivered or dead:
            delivery.state = "delivered" if delivered else "dead"
            delivery.finished_at = now
            return None
        return delivery.attempts
