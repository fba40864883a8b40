"""Marks the days a change makes stale, in the transaction of the change (before each flush).

What a rollup day holds depends on a conversation's created_at, first_response_at, resolved_at,
status, assignee, team, inbox and channel, on its public agent messages once it is resolved, and
on a survey's sent_at, score and keys. A change to any of these marks the moment (old and new)
that dates it; the reports then read that day live until the worker has rebuilt it. The mark is
one small row, only for such changes (not for a reply to an open conversation), and nothing is
computed here: the rebuild runs in the worker.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from helpdesk.reports.rollup_models import ReportDirty
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import AuthorType, Conversation, Message, Status

CONVERSATION_FIELDS = ("created_at", "first_response_at", "resolved_at", "status", "assignee", "assignee_id",
                       "team", "team_id", "inbox", "inbox_id", "channel")
SURVEY_FIELDS = ("sent_at", "score", "agent_id", "team_id", "inbox_id", "channel")
CONVERSATION_TIMES = ("created_at", "resolved_at")
SLOT = timedelta(minutes=15)  # every zone's midnight falls on a quarter hour: one mark per slot is enough


def _changed(obj: Any, names: tuple[str, ...]) -> bool:
    attrs = inspect(obj).attrs
    return any(name in attrs and attrs[name].history.has_changes() for name in names)


def _old_and_new(session: Session, obj: Any, name: str) -> list[datetime]:
    history = inspect(obj).attrs[name].history
    values = [*history.added, *history.deleted, *([] if history.added else history.unchanged)]
    if not values and obj not in session.new:
        with session.no_autoflush:  # expired since the last commit: the stored value
            values = [getattr(obj, name)]
    return [v for v in values if isinstance(v, datetime)]


def _slot(moment: datetime) -> datetime:
    return moment - timedelta(minutes=moment.minute % 15, seconds=moment.second, microseconds=moment.microsecond)


@event.listens_for(Session, "before_flush")
def _mark_stale_days(session: Session, _context: Any, _instances: Any) -> None:
    moments: set[datetime] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Conversation):
            if obj in session.new or obj in session.deleted or _changed(obj, CONVERSATION_FIELDS):
                for name in CONVERSATION_TIMES:
                    moments.update(_old_and_new(session, obj, name))
        elif isinstance(obj, CsatSurvey):
            if obj in session.new or obj in session.deleted or _changed(obj, SURVEY_FIELDS):
                moments.update(_old_and_new(session, obj, "sent_at"))
        elif isinstance(obj, Message) and (obj in session.new or obj in session.deleted):
            # An agent's public reply counts in the "replies" of a resolved conversation's day.
            conversation = obj.conversation
            if (obj.author_type == AuthorType.agent and not obj.private and conversation is not None
                    and conversation.status == Status.resolved):
                moments.update(t for t in (conversation.created_at, conversation.resolved_at) if t is not None)
    for moment in sorted({_slot(m) for m in moments}):
        session.add(ReportDirty(at=moment))
