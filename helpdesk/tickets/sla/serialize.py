"""The public JSON shapes of calendars, policies and a conversation's `sla` (PROTOCOL.md)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from helpdesk.tickets.models import Conversation
from helpdesk.tickets.serialize import iso
from helpdesk.tickets.sla.models import BusinessHours, ConversationSla, SlaPolicy
from helpdesk.tickets.sla.services import breached_metrics, targets_of


def business_hours_dict(row: BusinessHours) -> dict[str, Any]:
    return {"id": row.public_id, "name": row.name, "timezone": row.timezone, "hours": row.hours,
            "holidays": row.holidays, "created_at": iso(row.created_at)}


def policy_dict(policy: SlaPolicy) -> dict[str, Any]:
    return {"id": policy.public_id, "name": policy.name, "position": policy.position,
            "business_hours": policy.business_hours.public_id if policy.business_hours else None,
            "match": policy.match or {}, "targets": targets_of(policy), "created_at": iso(policy.created_at)}


def sla_dict(state: ConversationSla | None) -> dict[str, Any] | None:
    """A conversation's `sla`; None without a policy."""
    if state is None or state.policy is None:
        return None
    return {"policy": {"id": state.policy.public_id, "name": state.policy.name},
            "first_response_due_at": iso(state.first_response_due_at),
            "next_response_due_at": iso(state.next_response_due_at),
            "resolution_due_at": iso(state.resolution_due_at),
            "paused": state.paused_at is not None,
            "breached": breached_metrics(state)}


def _span(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def badge(state: ConversationSla | None, now: datetime) -> dict[str, Any] | None:
    """The queue's countdown: text, a css modifier (ok, soon, breached, paused, met) and the due time."""
    if state is None or state.policy is None:
        return None
    breached = bool(state.breaches)
    if state.paused_at is not None:
        return {"text": "SLA paused", "css": "breached" if breached else "paused", "due": None,
                "breached": breached, "kind": "paused", "seconds": None}
    if state.next_due_at is None:
        return {"text": "SLA breached" if breached else "SLA met", "css": "breached" if breached else "met",
                "due": None, "breached": breached, "kind": "breached" if breached else "met", "seconds": None}
    left = state.next_due_at - now
    if left <= timedelta(0):
        return {"text": f"overdue {_span(-left)}", "css": "breached", "due": iso(state.next_due_at),
                "breached": True, "kind": "overdue", "seconds": -left.total_seconds()}
    text = f"due in {_span(left)}" + (" · breached" if breached else "")
    css = "breached" if breached else "soon" if left <= timedelta(hours=1) else "ok"
    # "text" is the English wording; the console words `kind` and `seconds` in its language.
    return {"text": text, "css": css, "due": iso(state.next_due_at), "breached": breached,
            "kind": "due_breached" if breached else "due", "seconds": left.total_seconds()}


def badges(session: Session, conversations: Iterable[Conversation], now: datetime) -> dict[int, dict[str, Any]]:
    """conversation id -> badge, for one page of the queue in one query."""
    ids = [c.id for c in conversations]
    if not ids:
        return {}
    states = session.scalars(select(ConversationSla).options(selectinload(ConversationSla.breaches),
                                                             selectinload(ConversationSla.policy))
                             .where(ConversationSla.conversation_id.in_(ids))).all()
    return {s.conversation_id: b for s in states if (b := badge(s, now)) is not None}
