"""The audit log as a person reads it: who, what in words, on what (named and linked, no raw ids),
the details as "field: before → after", filtered by actor, action and dates, paged by id.

Names and links of targets come from the room that owns them: each registers a capability
"audit.target.<type>" = fn(session, public_ids) -> {public_id: (label, url or None)}."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent, AuditEntry
from helpdesk.errors import Invalid
from helpdesk.i18n import N_

PAGE = 50
# Whole phrases, so a language can put the words in its own order ("%(what)s gelöscht").
VERBS = {"create": N_("created %(what)s"), "update": N_("updated %(what)s"), "delete": N_("deleted %(what)s"),
         "save": N_("saved %(what)s"), "token": N_("new ingest token for %(what)s"),
         "invite": N_("invited %(what)s"), "unlock": N_("unlocked %(what)s"), "retry": N_("retried %(what)s"),
         "erase": N_("erased (GDPR) %(what)s"), "revoke": N_("revoked %(what)s"), "pull": N_("pulled from %(what)s"),
         "reset_link": N_("made a password reset link for %(what)s"),
         "password_set": N_("set their password: %(what)s"), "password": N_("changed their password: %(what)s"),
         "two_factor_on": N_("turned on two-factor login: %(what)s"),
         "two_factor_off": N_("turned off two-factor login for %(what)s"),
         "recovery_codes": N_("made new recovery codes: %(what)s"),
         "recovery_code_used": N_("used a recovery code: %(what)s"),
         "assignment": N_("changed assignment of %(what)s"), "chat_settings": N_("changed chat settings of %(what)s"),
         "email_settings": N_("changed email settings of %(what)s"), "csat": N_("changed the CSAT survey of %(what)s"),
         "retry_send": N_("sent again %(what)s"), "action_requested": N_("asked the shop to act on %(what)s"),
         "backfill": N_("started an order backfill of %(what)s"), "shop_saved": N_("saved the shop %(what)s"),
         "shop_removed": N_("removed the shop %(what)s"),
         "two_factor_roles": N_("changed who must use two-factor login %(what)s")}
NOUNS = {"api_token": N_("API token"), "canned_reply": N_("canned reply"), "automation_rule": N_("automation rule"),
         "business_hours": N_("business hours"), "sla_policy": N_("SLA policy"), "crm": N_("CRM"), "roles": N_("roles"),
         "agent": N_("agent"), "conversation": N_("conversation"), "customer": N_("customer"), "inbox": N_("inbox"),
         "macro": N_("macro"), "team": N_("team"), "webhook": N_("webhook"), "email": N_("email"),
         "orders": N_("orders"), "security": N_("security"), "job": N_("job")}
# The changed fields' names in the details column.
FIELDS = {"status": N_("status"), "assignee": N_("assignee"), "priority": N_("priority"), "team": N_("team"),
          "name": N_("name"), "email": N_("email"), "role": N_("role"), "active": N_("active"), "tags": N_("tags"),
          "inbox": N_("inbox"), "subject": N_("subject"), "snoozed_until": N_("snoozed until")}

VALUE_FIELDS = {"status", "priority", "role", "channel"}  # values the console words (label_of)


def _same(text: str) -> str:
    return text


def words(action: str, translate: Callable[[str], str] = _same) -> str:
    """"inbox.delete" -> "deleted inbox" (in the language of `translate`, a gettext); an action
    nobody named reads as its parts."""
    noun, _, verb = action.partition(".")
    if verb in VERBS:
        what = translate(NOUNS[noun]) if noun in NOUNS else noun.replace("_", " ")
        return (translate(VERBS[verb]) % {"what": what}).strip()
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


def details(data: dict[str, Any], translate: Callable[[str], str] = _same,
            label: Callable[[Any], str] = str) -> list[str]:
    """"name: Old → New" lines; nested values as short text, never a JSON dump. `translate` words
    the field names, `label` the domain's values (status, priority, role) in the console's language."""
    def name(field: str) -> str:
        return translate(FIELDS[field]) if field in FIELDS else field.replace("_", " ")

    def text(value: Any, field: str) -> str:
        return _text(value, translate, label if field in VALUE_FIELDS else str)

    lines = []
    for key, value in (data or {}).items():
        if key == "changes" and isinstance(value, dict):
            for field, change in value.items():
                if isinstance(change, list) and len(change) == 2:
                    lines.append(f"{name(field)}: {text(change[0], field)} → {text(change[1], field)}")
                else:
                    lines.append(f"{name(field)}: {text(change, field)}")
        else:
            lines.append(f"{name(key)}: {text(value, key)}")
    return lines


def _text(value: Any, translate: Callable[[str], str] = _same, label: Callable[[Any], str] = str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return translate(N_("yes")) if value else translate(N_("no"))
    if isinstance(value, list):
        return ", ".join(_text(v, translate, label) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v, translate, label)}" for k, v in value.items()) or "—"
    text = label(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 120 else text[:119] + "…"


def agent_targets(session: Session, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    from flask import url_for

    return {a.public_id: (f"{a.name} ({a.email})", url_for("accounts.agents"))
            for a in session.scalars(select(Agent).where(Agent.public_id.in_(ids)))}


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
