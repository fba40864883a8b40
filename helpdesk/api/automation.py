"""REST /api/v1 for automation rules and macros. Same blueprint, token auth and error shape
as api/views.py; the services decide roles (rules: admins; shared macros: managers)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from helpdesk.accounts.models import Role
from helpdesk.accounts.services import require
from helpdesk.api.views import actor, bp
from helpdesk.errors import Invalid
from helpdesk.runtime import current_runtime
from helpdesk.tickets import macros
from helpdesk.tickets import services as tickets
from helpdesk.tickets.rules import engine
from helpdesk.tickets.rules import services as rules
from helpdesk.tickets.rules.schema import EVENTS, clean_actions, clean_conditions
from helpdesk.tickets.serialize import conversation_dict
from helpdesk.web import commit, db_session, json_body

DRY_RUN_MAX = 500


@bp.get("/automation-rules")
def rules_list() -> Any:
    require(actor(), Role.admin)
    return jsonify(data=[rules.rule_dict(r) for r in rules.all_rules(db_session())])


@bp.post("/automation-rules")
def rules_create() -> Any:
    rule = rules.create_rule(db_session(), actor(), json_body(), current_app.config)
    commit()
    return jsonify(rules.rule_dict(rule)), 201


@bp.get("/automation-rules/<public_id>")
def rules_get(public_id: str) -> Any:
    require(actor(), Role.admin)
    return jsonify(rules.rule_dict(rules.get_rule(db_session(), public_id)))


@bp.patch("/automation-rules/<public_id>")
def rules_patch(public_id: str) -> Any:
    session = db_session()
    rule = rules.update_rule(session, actor(), rules.get_rule(session, public_id), json_body(), current_app.config)
    commit()
    return jsonify(rules.rule_dict(rule))


@bp.delete("/automation-rules/<public_id>")
def rules_delete(public_id: str) -> Any:
    session = db_session()
    rules.delete_rule(session, actor(), rules.get_rule(session, public_id))
    commit()
    return "", 204


@bp.post("/automation-rules/dry-run")
def rules_dry_run() -> Any:
    """Which recent conversations a rule (saved or not) would match; nothing is changed."""
    require(actor(), Role.admin)
    data = json_body()
    if data.get("event") not in EVENTS:
        raise Invalid("event", f"one of {', '.join(EVENTS)}", code="unknown_event")
    limit = data.get("limit", 200)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= DRY_RUN_MAX:
        raise Invalid("limit", f"1 to {DRY_RUN_MAX}")
    session = db_session()
    hits = engine.dry_run(session, data["event"], clean_conditions(data.get("conditions")),
                          clean_actions(data.get("actions")), current_runtime().clock(), limit)
    body = [{"conversation": {"id": c.public_id, "ref": c.ref, "subject": c.subject}, "would": described}
            for c, described in hits]
    session.rollback()
    return jsonify(data=body, checked=limit)


@bp.get("/macros")
def macros_list() -> Any:
    return jsonify(data=[macros.macro_dict(m) for m in macros.visible_macros(db_session(), actor())])


@bp.post("/macros")
def macros_create() -> Any:
    macro = macros.create_macro(db_session(), actor(), json_body(), current_app.config)
    commit()
    return jsonify(macros.macro_dict(macro)), 201


@bp.get("/macros/<public_id>")
def macros_get(public_id: str) -> Any:
    return jsonify(macros.macro_dict(macros.get_macro(db_session(), actor(), public_id)))


@bp.patch("/macros/<public_id>")
def macros_patch(public_id: str) -> Any:
    session = db_session()
    macro = macros.update_macro(session, actor(), macros.get_macro(session, actor(), public_id), json_body(),
                                current_app.config)
    commit()
    return jsonify(macros.macro_dict(macro))


@bp.delete("/macros/<public_id>")
def macros_delete(public_id: str) -> Any:
    session = db_session()
    macros.delete_macro(session, actor(), macros.get_macro(session, actor(), public_id))
    commit()
    return "", 204


@bp.post("/conversations/<public_id>/macros/<macro_id>")
def macros_apply(public_id: str, macro_id: str) -> Any:
    """Apply a macro as the token's agent."""
    session = db_session()
    conv = tickets.get_conversation(session, public_id, actor())
    done = macros.apply_macro(session, actor(), conv, macros.get_macro(session, actor(), macro_id))
    commit()
    return jsonify(conversation=conversation_dict(conv, for_agent=True), done=done)
