"""The audit log as a person reads it: who, what in words, on what (named and linked, no raw ids),
the details as "field: before → after", filtered by actor, action and dates, paged by id.

Names and links of targets come from the room that owns them: each registers a capability
"audit.target.<type>" = fn(session, public_ids) -> {public_id: (label, url or None)}."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent, AuditEntry
from helpdesk.errors import Invalid

PAGE = 50
VERBS = {"create": "created", "update": "updated", "delete": "deleted", "save": "saved",
         "token": "new ingest token for",
         "invite": "invited", "unlock": "unlocked", "retry": "retried", "erase": "erased (GDPR)",
         "revoke": "revoked", "pull": "pulled from", "reset_link": "made a password reset link for",
         "password_set": "set their password:", "password": "changed their password:",
         "two_factor_on": "turned on two-factor login:", "two_factor_off": "turned off two-factor login for",
         "recovery_codes": "made new recovery codes:", "recovery_code_used": "used a recovery code:",
         "assignment": "changed assignment of", "chat_settings": "changed chat settings of",
         "email_settings": "changed email settings of", "csat": "changed the CSAT survey of",
         "retry_send": "sent again", "action_requested": "asked the shop to act on",
         "backfill": "started an order backfill of", "shop_saved": "saved the shop", "shop_removed": "removed the shop",
         "two_factor_roles": "changed who must use two-factor login"}
NOUNS = {"api_token": "API token", "canned_reply": "canned reply", "automation_rule": "automation rule",
         "business_hours": "business hours", "sla_policy": "SLA policy", "crm": "CRM", "roles": "roles"}


def words(action: str) -> str:
    """"inbox.delete" -> "deleted inbox"; an action nobody named reads as its parts."""
    noun, _, verb = action.partition(".")
    if verb in VERBS:
        return f"{VERBS[verb]} {NOUNS.get(noun, noun.replace('_', ' '))}".strip()
    return action.replace(".", " ").replace("_", " ")


@dataclass
class Filters:
    actor: str = ""  # an agent's public id, or "system"
    action: str = ""
    date_from: str = ""
    date_to: str = ""
    before: int | None = None


def _day(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), time(), UTC)
    except ValueError:
        raise Invalid(field, "a date as YYYY-MM-DD") from None


def entries(session: Session, f: Filters) -> tuple[list[AuditEntry], int | None]:
    """A page of entries, newest first, and the id to page on from (None: no more)."""
    query = select(AuditEntry)
    if f.actor == "system":
        query = query.where(AuditEntry.actor_type == "system")
    elif f.actor:
        agent_id = session.scalar(select(Agent.id).filter_by(public_id=f.actor))
        if agent_id is None:
            raise Invalid("actor", "not an agent of this helpdesk")
        query = query.where(AuditEntry.actor_type.in_(("agent", "api")), AuditEntry.actor_id == agent_id)
    if f.action:
        query = query.where(AuditEntry.action == f.action)
    start, end = _day(f.date_from, "from"), _day(f.date_to, "to")
    if start and end and end < start:
        raise Invalid("to", "on or after from")
    if start:
        query = query.where(AuditEntry.created_at >= start)
    if end:
        query = query.where(AuditEntry.created_at < end + timedelta(days=1))
    if f.before is not None:
        query = query.where(AuditEntry.id < f.before)
    rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(PAGE + 1)))
    return rows[:PAGE], (rows[PAGE - 1].id if len(rows) > PAGE else None)


def targets(session: Session, rows: list[AuditEntry], capability: Any) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(type, id) -> (label, url) for every target a room can name; others stay unnamed."""
    wanted: dict[str, set[str]] = {}
    for row in rows:
        wanted.setdefault(row.target_type, set()).add(row.target_id)
    named: dict[tuple[str, str], tuple[str, str | None]] = {}
    for kind, ids in wanted.items():
        resolve = capability(f"audit.target.{kind}")
        if resolve is None:
            continue
        for public_id, (label, url) in resolve(session, sorted(ids)).items():
            named[(kind, public_id)] = (label, url)
    return named


def details(data: dict[str, Any]) -> list[str]:
    """"name: Old → New" lines; nested values as short text, never a JSON dump."""
    lines = []
    for key, value in (data or {}).items():
        if key == "changes" and isinstance(value, dict):
            for field, change in value.items():
                if isinstance(change, list) and len(change) == 2:
                    lines.append(f"{field.replace('_', ' ')}: {_text(change[0])} → {_text(change[1])}")
                else:
                    lines.append(f"{field.replace('_', ' ')}: {_text(change)}")
        else:
            lines.append(f"{key.replace('_', ' ')}: {_text(value)}")
    return lines


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items()) or "—"
    text = str(value)
    return text if len(text) <= 120 else text[:119] + "…"


def agent_targets(session: Session, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    from flask import url_for

    return {a.public_id: (f"{a.name} ({a.email})", url_for("accounts.agents"))
            for a in session.scalars(select(Agent).where(Agent.public_id.in_(ids)))}


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
