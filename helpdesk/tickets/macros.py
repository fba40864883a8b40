"""Macros: several actions in one click (reply with placeholders, tags, status, priority,
assignment), shared by managers or kept personal, applied as the agent who uses them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit, require
from helpdesk.actors import Actor
from helpdesk.errors import Forbidden, Invalid, NotFound
from helpdesk.tickets.models import Conversation
from helpdesk.tickets.rules import actions as rule_actions
from helpdesk.tickets.rules.models import Macro
from helpdesk.tickets.rules.schema import clean_actions

MACRO_FIELDS = {"name", "actions", "shared"}


def _clean(session: Session, data: Mapping[str, Any], settings: Mapping[str, Any],
           current: Macro | None = None) -> tuple[str, list[dict[str, Any]], bool]:
    if unknown := set(data) - MACRO_FIELDS:
        raise Invalid(sorted(unknown)[0], f"not a macro field; use {', '.join(sorted(MACRO_FIELDS))}")
    name = data.get("name", current.name if current else None)
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 120:
        raise Invalid("name", "1 to 120 characters")
    actions = clean_actions(data.get("actions", current.actions if current else None))
    rule_actions.check_targets(session, actions, settings)
    shared = data.get("shared", current.owner_id is None if current else False)
    if not isinstance(shared, bool):
        raise Invalid("shared", "true or false")
    return name.strip(), actions, shared


def _may_edit(actor: Actor, macro: Macro) -> None:
    if macro.owner_id is None:
        require(actor, Role.manager)  # shared macros are the managers'
    elif macro.owner_id != actor.id:
        raise NotFound("no such macro")


def create_macro(session: Session, actor: Actor, data: Mapping[str, Any], settings: Mapping[str, Any]) -> Macro:
    if not actor.is_agent:
        raise Forbidden("only agents keep macros")
    name, actions, shared = _clean(session, data, settings)
    if shared:
        require(actor, Role.manager)
    macro = Macro(name=name, actions=actions, owner_id=None if shared else actor.id)
    session.add(macro)
    session.flush()
    audit(session, actor, "macro.create", "macro", macro.public_id, name=name, shared=shared)
    return macro


def update_macro(session: Session, actor: Actor, macro: Macro, data: Mapping[str, Any],
                 settings: Mapping[str, Any]) -> Macro:
    _may_edit(actor, macro)
    name, actions, shared = _clean(session, data, settings, macro)
    if shared:
        require(actor, Role.manager)
    macro.name, macro.actions = name, actions
    macro.owner_id = None if shared else (macro.owner_id or actor.id)
    session.flush()
    audit(session, actor, "macro.update", "macro", macro.public_id, name=name, shared=shared)
    return macro


def delete_macro(session: Session, actor: Actor, macro: Macro) -> None:
    _may_edit(actor, macro)
    audit(session, actor, "macro.delete", "macro", macro.public_id, name=macro.name)
    session.delete(macro)
    session.flush()


def visible_macros(session: Session, actor: Actor) -> list[Macro]:
    """Shared ones and the caller's own, by name."""
    return list(session.scalars(select(Macro).where(or_(Macro.owner_id.is_(None), Macro.owner_id == actor.id))
                                .order_by(Macro.name, Macro.id)))


def get_macro(session: Session, actor: Actor, public_id: str) -> Macro:
    macro = session.scalar(select(Macro).filter_by(public_id=public_id))
    if macro is None or (macro.owner_id is not None and macro.owner_id != actor.id):
        raise NotFound("no such macro")
    return macro


def apply_macro(session: Session, actor: Actor, conversation: Conversation, macro: Macro) -> list[str]:
    """Every action as the caller: the reply is theirs, the changes are audited under their name."""
    if not actor.is_agent:
        raise Forbidden("only agents apply macros")
    return rule_actions.apply(session, actor, conversation, macro.actions, signer_name=actor.name,
                              message_meta={"macro": macro.public_id})


def macro_dict(macro: Macro) -> dict[str, Any]:
    return {"id": macro.public_id, "name": macro.name, "actions": macro.actions, "shared": macro.owner_id is None,
            "created_at": macro.created_at.isoformat() if macro.created_at else None}
