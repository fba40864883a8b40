"""How an agent's reply keeps trying to reach the customer, like a mail server's queue: temporary
failures (no connection, timeouts, 4xx) retry with capped exponential backoff until
HELPDESK_SMTP_RETRY_HOURS after the reply was written (or after an agent pressed Retry); a
permanent 5xx fails at once. Every attempt carries the same stored Message-ID, so a mail sent
twice after a crash threads as one at the recipient. Touches no network."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from helpdesk import events, jobs
from helpdesk.accounts.services import audit
from helpdesk.actors import Actor
from helpdesk.errors import Invalid, NotFound
from helpdesk.tickets import services as tickets
from helpdesk.tickets.events import DeliveryChanged
from helpdesk.tickets.models import AuthorType, Delivery, Message

SEND_JOB = "email.send"
FIRST_RETRY_SECONDS = 60.0
MAX_RETRY_SECONDS = 3600.0
DEFAULT_RETRY_HOURS = 48.0


@dataclass(frozen=True)
class RetryPolicy:
    retry_hours: float = DEFAULT_RETRY_HOURS
    first: float = FIRST_RETRY_SECONDS
    cap: float = MAX_RETRY_SECONDS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RetryPolicy:
        return cls(retry_hours=float(config.get("SMTP_RETRY_HOURS") or DEFAULT_RETRY_HOURS),
                   first=float(config.get("SMTP_RETRY_FIRST_SECONDS") or FIRST_RETRY_SECONDS),
                   cap=float(config.get("SMTP_RETRY_MAX_SECONDS") or MAX_RETRY_SECONDS))

    def delay(self, failures: int) -> float:
        """1 min, 2, 4, ... 32 min, then every hour (`failures` counts from 1)."""
        return min(self.cap, self.first * 2 ** max(0, failures - 1))

    def next_attempt(self, since: datetime, now: datetime, failures: int) -> datetime | None:
        """When to try again after the `failures`-th temporary failure, or None: give up. The
        last try lands on the deadline itself rather than being skipped."""
        deadline = since + timedelta(hours=self.retry_hours)
        if now >= deadline:
            return None
        return min(now + timedelta(seconds=self.delay(failures)), deadline)


def retry_window_start(message: Message, payload_since: str | None) -> datetime:
    """The reply's creation, or the moment an agent asked to retry it (the job's payload)."""
    if payload_since:
        start = datetime.fromisoformat(payload_since)
        return max(start, message.created_at)
    return message.created_at


def retry_delivery(session: Session, actor: Actor, message_public_id: str, *, now: datetime) -> Message:
    """An agent's Retry on a reply whose delivery failed: the send is queued again, with a new
    retry window and the same Message-ID; the console shows `sending` until it settles."""
    message = session.query(Message).filter_by(public_id=message_public_id).one_or_none()
    if message is None:
        raise NotFound("no such message")
    tickets.get_conversation(session, message.conversation.public_id, actor)  # may the actor see it?
    if message.author_type is not AuthorType.agent or message.private or not message.email_message_id:
        raise Invalid("message", "only an agent's emailed reply can be sent again", code="not_an_email_reply")
    if message.delivery is not Delivery.failed:
        raise Invalid("message", f"its delivery is {message.delivery.value if message.delivery else 'none'}, "
                      "not failed", code="not_failed")
    meta = {k: v for k, v in (message.meta or {}).items() if k not in ("send_attempts", "emailed_at")}
    message.meta = {**meta, "send_retried_at": now.isoformat()}
    message.delivery = Delivery.sending
    message.delivery_error = None
    jobs.enqueue(session, SEND_JOB, {"message_id": message.id, "retry_from": now.isoformat()},
                 dedupe_key=f"email-send:{message.id}")
    events.record(session, DeliveryChanged(message.id, message.conversation_id, message.delivery.value))
    audit(session, actor, "email.retry_send", "message", message.public_id)
    return message
