"""The CSV export: one row per conversation created in the period, streamed in batches."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session, aliased

from helpdesk.accounts.models import Agent
from helpdesk.crm.models import Customer
from helpdesk.db import Database
from helpdesk.orders.models import ConversationOrder, LinkState, Order
from helpdesk.reports.figures import _conversation_filters
from helpdesk.reports.ranges import Filters, Period
from helpdesk.reports.sql import epoch
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import AuthorType, Conversation, Inbox, Message, Team
from helpdesk.tickets.sla.models import ConversationSla, SlaBreach, SlaPolicy

HEADER = ["conversation_id", "ref", "subject", "channel", "inbox", "team", "agent", "customer_email",
          "status", "created_at", "first_response_at", "resolved_at", "first_response_seconds",
          "resolution_seconds", "agent_replies", "csat_score", "csat_comment", "csat_agent", "linked_orders",
          "sla_policy", "first_response_due_at", "next_response_due_at", "resolution_due_at", "sla_breached"]
BATCH = 5_000
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: Any) -> Any:
    """Text that a spreadsheet would evaluate gets a leading apostrophe; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _iso(epoch_seconds: float | None) -> str:
    if epoch_seconds is None:
        return ""
    return datetime.fromtimestamp(round(epoch_seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(later: float | None, earlier: float | None) -> Any:
    return "" if later is None or earlier is None else max(0, round(later - earlier))


def rows(session: Session, period: Period, filters: Filters = Filters()) -> Iterator[list[Any]]:
    """Data rows (already escaped), conversation by conversation in creation order."""
    assignee, survey_agent = aliased(Agent), aliased(Agent)
    replies = (select(func.count(Message.id))
               .where(Message.conversation_id == Conversation.id, Message.author_type == AuthorType.agent,
                      Message.private.is_(False))
               .correlate(Conversation).scalar_subquery())
    query = (
        select(Conversation.id, Conversation.public_id, Conversation.ref, Conversation.subject,
               type_coerce(Conversation.channel, String), Inbox.name, Team.name, assignee.name,
               Customer.email, type_coerce(Conversation.status, String), epoch(Conversation.created_at),
               epoch(Conversation.first_response_at), epoch(Conversation.resolved_at), replies,
               CsatSurvey.score, CsatSurvey.comment, survey_agent.name, SlaPolicy.name,
               epoch(ConversationSla.first_response_due_at), epoch(ConversationSla.next_response_due_at),
               epoch(ConversationSla.resolution_due_at), ConversationSla.id)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .join(Customer, Customer.id == Conversation.customer_id)
        .outerjoin(Team, Team.id == Conversation.team_id)
        .outerjoin(assignee, assignee.id == Conversation.assignee_id)
        .outerjoin(CsatSurvey, CsatSurvey.conversation_id == Conversation.id)
        .outerjoin(survey_agent, survey_agent.id == CsatSurvey.agent_id)
        .outerjoin(ConversationSla, ConversationSla.conversation_id == Conversation.id)
        .outerjoin(SlaPolicy, SlaPolicy.id == ConversationSla.policy_id)
        .where(Conversation.created_at >= period.start, Conversation.created_at < period.end,
               *_conversation_filters(filters))
        .order_by(Conversation.created_at, Conversation.id)
        .execution_options(yield_per=BATCH)
    )
    batch: list[Any] = []
    # Core rows: the ORM's per-row work would dominate a million-row export.
    for row in session.connection().execute(query):
        batch.append(row)
        if len(batch) >= BATCH:
            yield from _emit(session, batch)
            batch = []
    if batch:
        yield from _emit(session, batch)


def _emit(session: Session, batch: list[Any]) -> Iterator[list[Any]]:
    linked = _linked_orders(session, [r[0] for r in batch])
    breaches = _breaches(session, [r[21] for r in batch if r[21] is not None])
    for r in batch:
        yield [escape_cell(v) for v in (
            r[1], r[2], r[3], r[4], r[5], r[6] or "", r[7] or "", r[8] or "", r[9],
            _iso(r[10]), _iso(r[11]), _iso(r[12]), _seconds(r[11], r[10]), _seconds(r[12], r[10]),
            r[13] or 0, "" if r[14] is None else r[14], r[15] or "", r[16] or "",
            " ".join(linked.get(r[0], [])), r[17] or "", _iso(r[18]), _iso(r[19]), _iso(r[20]),
            " ".join(breaches.get(r[21], [])),
        )]


def _breaches(session: Session, sla_ids: list[int]) -> dict[int, list[str]]:
    """The breached SLA metrics of each conversation's clock, each named once."""
    out: dict[int, list[str]] = {}
    if not sla_ids:
        return out
    query = (select(SlaBreach.sla_id, SlaBreach.metric).where(SlaBreach.sla_id.in_(sla_ids))
             .distinct().order_by(SlaBreach.sla_id, SlaBreach.metric))
    for sla_id, metric in session.execute(query):
        out.setdefault(sla_id, []).append(metric)
    return out


def _linked_orders(session: Session, ids: list[int]) -> dict[int, list[str]]:
    """The order numbers (as the shop shows them) linked to each conversation."""
    if not ids:
        return {}
    out: dict[int, list[str]] = {}
    query = (select(ConversationOrder.conversation_id, Order.name, Order.number)
             .join(Order, Order.id == ConversationOrder.order_id)
             .where(ConversationOrder.conversation_id.in_(ids), ConversationOrder.state == LinkState.linked)
             .order_by(ConversationOrder.conversation_id, Order.placed_at))
    for conversation_id, name, number in session.execute(query):
        out.setdefault(conversation_id, []).append(name or f"#{number}")
    return out


def csv_chunks(session: Session, period: Period, filters: Filters = Filters()) -> Iterator[str]:
    """The CSV text in chunks of about a batch, for a streamed HTTP response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for i, row in enumerate(rows(session, period, filters), 1):
        writer.writerow(row)
        if i % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def stream_csv(database: Database, period: Period, filters: Filters = Filters()) -> Iterator[str]:
    """csv_chunks in a session of its own, closed when the body ends or the client goes away: a
    streamed body outlives the request, and with it the request's session. It only reads: a
    year's export must not hold SQLite's write lock (and chat) for its seconds."""
    session = database.reading()
    try:
        yield from csv_chunks(session, period, filters)
    finally:
        session.rollback()
        session.close()
