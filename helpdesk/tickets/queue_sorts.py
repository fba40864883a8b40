"""The queue's other orders besides latest activity and SLA due: newest, oldest, waiting longest
and priority, each keyset-paged (the cursor holds the sort keys of the last row), and the row
previews (last message, how long the customer has waited) for one page in one statement."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from helpdesk.errors import Invalid
from helpdesk.i18n import N_
from helpdesk.tickets.models import AuthorType, Conversation, Message, Priority

PRIORITY_RANK = case({Priority.urgent: 3, Priority.high: 2, Priority.normal: 1, Priority.low: 0},
                     value=Conversation.priority, else_=1)

# name: the keys in order, each (expression, descending?, kind of value in the cursor)
KEYS: dict[str, list[tuple[Any, bool, str]]] = {
    "newest": [(Conversation.created_at, True, "time"), (Conversation.id, True, "int")],
    "oldest": [(Conversation.created_at, False, "time"), (Conversation.id, False, "int")],
    # Least recent activity first: the conversations nobody has touched for longest.
    "waiting": [(Conversation.last_activity_at, False, "time"), (Conversation.id, False, "int")],
    "priority": [(PRIORITY_RANK, True, "int"), (Conversation.last_activity_at, True, "time"),
                 (Conversation.id, True, "int")],
}
# English here (marked for extraction); the console shows them in the agent's language.
LABELS = {"activity": N_("Latest activity"), "newest": N_("Newest"), "oldest": N_("Oldest"),
          "waiting": N_("Waiting longest"), "priority": N_("Priority"), "due": N_("SLA due first")}


def _value(conversation: Conversation, expression: Any) -> Any:
    if expression is PRIORITY_RANK:
        return {"urgent": 3, "high": 2, "normal": 1, "low": 0}.get(conversation.priority.value, 1)
    return getattr(conversation, expression.key)


def encode(sort: str, conversation: Conversation) -> str:
    values = [_value(conversation, e) for e, _desc, _kind in KEYS[sort]]
    raw = json.dumps([sort, *[v.isoformat() if isinstance(v, datetime) else v for v in values]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(sort: str, cursor: str) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or raw[0] != sort or len(raw) != len(KEYS[sort]) + 1:
            raise ValueError("another sort's cursor")
        return [datetime.fromisoformat(v) if kind == "time" else int(v)
                for v, (_e, _d, kind) in zip(raw[1:], KEYS[sort], strict=True)]
    except (ValueError, TypeError, IndexError, binascii.Error, json.JSONDecodeError):
        raise Invalid("cursor", "not a cursor this API gave out") from None


def page(session: Session, query: Any, sort: str, limit: int, cursor: str | None) -> tuple[list[Conversation],
                                                                                         str | None]:
    if sort == "priority":
        return _by_priority(session, query, limit, cursor)
    keys = KEYS[sort]
    if cursor:
        values = decode(sort, cursor)
        # (k1, k2, ...) after (v1, v2, ...) in the sort's directions, spelt out for both engines.
        clauses = []
        for i, (expression, desc, _kind) in enumerate(keys):
            equal = [keys[j][0] == values[j] for j in range(i)]
            beyond = expression < values[i] if desc else expression > values[i]
            clauses.append(and_(*equal, beyond))
        query = query.where(or_(*clauses))
    query = query.order_by(*[e.desc() if desc else e.asc() for e, desc, _k in keys]).limit(limit + 1)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode(sort, rows[-1]) if more and rows else None)


RANKED = [(3, Priority.urgent), (2, Priority.high), (1, Priority.normal), (0, Priority.low)]


def _by_priority(session: Session, query: Any, limit: int, cursor: str | None) -> tuple[list[Conversation],
                                                                                       str | None]:
    # A rank computed per row cannot come from an index: every conversation of the tab would be
    # sorted (950,000 resolved at 1,000,000). One priority at a time instead, each an index range
    # of (status, priority, last_activity_at), at most four statements, stopping when full.
    rank, when, row_id = decode("priority", cursor) if cursor else (3, None, None)
    rows: list[Conversation] = []
    for r, priority in RANKED:
        if r > rank:
            continue
        part = query.where(Conversation.priority == priority)
        if r == rank and when is not None:
            part = part.where(or_(Conversation.last_activity_at < when,
                                  and_(Conversation.last_activity_at == when, Conversation.id < row_id)))
        part = part.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        rows += session.scalars(part.limit(limit + 1 - len(rows))).all()
        if len(rows) > limit:
            break
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode("priority", rows[-1]) if more and rows else None)


@dataclass
class Preview:
    text: str
    author: str  # customer, agent, system
    at: datetime
    waiting_since: datetime | None  # the customer wrote last and nobody has answered since


PREVIEW_CHARS = 140


def previews(session: Session, conversation_ids: list[int]) -> dict[int, Preview]:
    """The last message customers can see of each conversation (never a private note)."""
    if not conversation_ids:
        return {}
    last = (select(Message.conversation_id, func.max(Message.seq).label("seq"))
            .where(Message.conversation_id.in_(conversation_ids), Message.private.is_(False))
            .group_by(Message.conversation_id).subquery())
    rows = session.execute(
        select(Message.conversation_id, Message.body_text, Message.author_type, Message.created_at)
        .join(last, and_(Message.conversation_id == last.c.conversation_id, Message.seq == last.c.seq)))
    out = {}
    for conversation_id, body, author, at in rows:
        text = " ".join((body or "").split())
        out[conversation_id] = Preview(text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else ""),
                                       AuthorType(author).value, at,
                                       at if AuthorType(author) is AuthorType.customer else None)
    return out
