"""Service levels in the reports: the share of SLA targets met, per agent, team, inbox, priority.

A conversation created in the period with a policy counts once: breached if any of its targets
was breached, met if every target it had was met without a breach, and running (left out of the
rate) while a target is still ahead of it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, case, exists, select, type_coerce
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.reports.figures import _conversation_filters
from helpdesk.reports.ranges import Filters, Period
from helpdesk.tickets.models import Conversation, Inbox, Priority, Team
from helpdesk.tickets.sla.models import ConversationSla, SlaBreach

GROUPS = {"agent": "Agent", "team": "Team", "inbox": "Inbox", "priority": "Priority"}
_COLUMNS = {"agent": Conversation.assignee_id, "team": Conversation.team_id, "inbox": Conversation.inbox_id,
            "priority": type_coerce(Conversation.priority, String)}
_NAMES = {"agent": Agent, "team": Team, "inbox": Inbox}


def _rate(met: int, breached: int) -> float | None:
    return None if met + breached == 0 else round(met / (met + breached), 4)


def sla_met(session: Session, period: Period, filters: Filters = Filters()) -> dict[str, Any]:
    """{"totals": {...}, "agent": [rows], "team": [...], "inbox": [...], "priority": [...]}; a row is
    {key, label, conversations, met, breached, running, met_rate}."""
    out: dict[str, Any] = {"totals": _row(None, "All", 0, 0, 0), **{g: [] for g in _COLUMNS}}
    # A helpdesk without SLA policies pays nothing here (on a year of a million conversations the
    # join below alone costs seconds).
    if session.scalar(select(ConversationSla.id).limit(1)) is None:
        return out
    breached = exists().where(SlaBreach.sla_id == ConversationSla.id)
    is_breached = case((breached, 1), else_=0)
    is_met = case((and_(~breached, ConversationSla.check_at.is_(None)), 1), else_=0)
    where = [Conversation.created_at >= period.start, Conversation.created_at < period.end,
             ConversationSla.policy_id.is_not(None) | breached, *_conversation_filters(filters)]
    # One read of the conversations, grouped four ways here (rather than five joins in SQL).
    counts: dict[str, dict[Any, list[int]]] = {g: {} for g in _COLUMNS}
    total = [0, 0, 0]
    rows = session.execute(
        select(*_COLUMNS.values(), is_met, is_breached)
        .select_from(Conversation).join(ConversationSla, ConversationSla.conversation_id == Conversation.id)
        .where(*where))
    for row in rows:
        met, br = row[4], row[5]
        total[0] += 1
        total[1] += met
        total[2] += br
        for i, group in enumerate(_COLUMNS):
            cell = counts[group].setdefault(row[i], [0, 0, 0])
            cell[0] += 1
            cell[1] += met
            cell[2] += br
    out["totals"] = _row(None, "All", *total)
    for group, cells in counts.items():
        labels = _labels(session, group, list(cells))
        built = [_row(labels.get(k, (None, None))[1] if group in _NAMES else k, _label(group, k, labels), *c)
                 for k, c in cells.items()]
        built.sort(key=_priority_order if group == "priority" else _by_label)
        out[group] = built
    return out


PRIORITY_ORDER = [p.value for p in Priority]


def _priority_order(row: dict[str, Any]) -> int:
    return PRIORITY_ORDER.index(row["key"]) if row["key"] in PRIORITY_ORDER else len(PRIORITY_ORDER)


def _by_label(row: dict[str, Any]) -> str:
    return str(row["label"]).lower()


def _row(key: Any, label: str, count: int, met: int, breached: int) -> dict[str, Any]:
    return {"key": key, "label": label, "conversations": count, "met": met, "breached": breached,
            "running": count - met - breached, "met_rate": _rate(met, breached)}


def _labels(session: Session, group: str, keys: list[Any]) -> dict[Any, tuple[str, str]]:
    model = _NAMES.get(group)
    ids = [k for k in keys if k is not None]
    if model is None or not ids:
        return {}
    return {r[0]: (r[1], r[2]) for r in session.execute(select(model.id, model.name, model.public_id)
                                                        .where(model.id.in_(ids)))}


def _label(group: str, key: Any, labels: dict[Any, tuple[str, str]]) -> str:
    if key is None:
        return {"agent": "Unassigned", "team": "No team"}.get(group, "—")
    if group in _NAMES:
        return labels.get(key, ("(deleted)", ""))[0]
    return str(key).capitalize()
