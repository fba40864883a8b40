"""Creating, changing and deleting automation rules (admins), every change in the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit, require
from helpdesk.actors import Actor
from helpdesk.errors import Invalid, NotFound
from helpdesk.tickets.rules import actions as rule_actions
from helpdesk.tickets.rules.models import AutomationRule
from helpdesk.tickets.rules.schema import EVENTS, clean_actions, clean_conditions

RULE_FIELDS = {"name", "event", "conditions", "actions", "active", "position"}


def clean_rule(session: Session, data: Mapping[str, Any], settings: Mapping[str, Any],
               current: AutomationRule | None = None) -> dict[str, Any]:
    """Check everything before anything is stored: one bad part refuses the whole rule (422)."""
    if unknown := set(data) - RULE_FIELDS:
        raise Invalid(sorted(unknown)[0], f"not a rule field; use {', '.join(sorted(RULE_FIELDS))}")
    merged = {"name": current.name, "event": current.event, "conditions": current.conditions,
              "actions": current.actions, "active": current.active, "position": current.position} if current else {}
    merged.update(data)
    name = merged.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 120:
        raise Invalid("name", "1 to 120 characters")
    if merged.get("event") not in EVENTS:
        raise Invalid("event", f"one of {', '.join(EVENTS)}", code="unknown_event")
    active = merged.get("active", True)
    if not isinstance(active, bool):
        raise Invalid("active", "true or false")
    position = merged.get("position")
    if position is not None and (isinstance(position, bool) or not isinstance(position, int) or position < 0):
        raise Invalid("position", "a whole number from 0")
    actions = clean_actions(merged.get("actions"))
    rule_actions.check_targets(session, actions, settings)
    return {"name": name.strip(), "event": merged["event"], "conditions": clean_conditions(merged.get("conditions")),
            "actions": actions, "active": active, "position": position}


def create_rule(session: Session, actor: Actor, data: Mapping[str, Any], settings: Mapping[str, Any]) -> AutomationRule:
    require(actor, Role.admin)
    values = clean_rule(session, data, settings)
    if values["position"] is None:  # a new rule goes last
        values["position"] = (session.scalar(select(func.max(AutomationRule.position))) or 0) + 1
    rule = AutomationRule(**values)
    session.add(rule)
    session.flush()
    audit(session, actor, "automation_rule.create", "automation_rule", rule.public_id, **rule_dict(rule))
    return rule


def update_rule(session: Session, actor: Actor, rule: AutomationRule, data: Mapping[str, Any],
                settings: Mapping[str, Any]) -> AutomationRule:
    require(actor, Role.admin)
    values = clean_rule(session, data, settings, rule)
    before = rule_dict(rule)
    for key, value in values.items():
        if value is not None:
            setattr(rule, key, value)
    session.flush()
    after = rule_dict(rule)
    audit(session, actor, "automation_rule.update", "automation_rule", rule.public_id,
          changes={k: [before[k], after[k]] for k in after if before[k] != after[k]})
    return rule


def delete_rule(session: Session, actor: Actor, rule: AutomationRule) -> None:
    require(actor, Role.admin)
    audit(session, actor, "automation_rule.delete", "automation_rule", rule.public_id, name=rule.name)
    session.delete(rule)
    session.flush()


def get_rule(session: Session, public_id: str) -> AutomationRule:
    rule = session.scalar(select(AutomationRule).filter_by(public_id=public_id))
    if rule is None:
        raise NotFound("no such automation rule")
    return rule


def all_rules(session: Session) -> list[AutomationRule]:
    return list(session.scalars(select(AutomationRule).order_by(AutomationRule.event, AutomationRule.position,
                                                                AutomationRule.id)))


def rule_dict(rule: AutomationRule) -> dict[str, Any]:
    return {"id": rule.public_id, "name": rule.name, "event": rule.event, "conditions": rule.conditions,
            "actions": rule.actions, "active": rule.active, "position": rule.position,
            "created_at": rule.created_at.isoformat() if rule.created_at else None}
