"""Console pages: the rule builder with its dry run (admins), macros, and applying a macro."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from helpdesk.accounts.models import Agent, Role
from helpdesk.errors import DomainError, Invalid
from helpdesk.runtime import current_runtime
from helpdesk.tickets import macros, services
from helpdesk.tickets.models import Team
from helpdesk.tickets.rules import engine
from helpdesk.tickets.rules import services as rules
from helpdesk.tickets.rules.models import AutomationRule
from helpdesk.tickets.rules.schema import builder_schema, clean_actions, clean_conditions
from helpdesk.web import commit, current_actor, db_session, require_role

bp = Blueprint("rules", __name__)
DRY_RUN_LIMIT = 200


def _json_field(name: str) -> Any:
    try:
        return json.loads(request.form.get(name) or "[]")
    except ValueError:
        raise Invalid(name, "the builder sent something that is not JSON") from None


def _builder_context(session: Any) -> dict[str, Any]:
    schema = builder_schema()
    # The builder's words in the console's language (the schema holds the English msgids).
    for entry in (*schema["fields"].values(), *schema["actions"].values()):
        entry["label"] = gettext(entry["label"]) if entry["label"] else entry["label"]
    schema["agents"] = [{"id": a.public_id, "name": a.name} for a in
                        session.scalars(select(Agent).filter_by(active=True).order_by(Agent.name))]
    schema["teams"] = [{"id": t.public_id, "name": t.name} for t in session.scalars(select(Team).order_by(Team.name))]
    return {"schema": schema}


def _rule_form() -> dict[str, Any]:
    form = request.form
    position = form.get("position", "").strip()
    data: dict[str, Any] = {"name": form.get("name", ""), "event": form.get("event", ""),
                            "active": form.get("active") == "1", "conditions": _json_field("conditions_json"),
                            "actions": _json_field("actions_json")}
    if position:
        if not position.isdigit():
            raise Invalid("position", "a whole number from 0")
        data["position"] = int(position)
    return data


@bp.get("/admin/rules")
@login_required
@require_role(Role.admin)
def rule_list() -> Any:
    session = db_session()
    editing = rules.get_rule(session, request.args["id"]) if request.args.get("id") else None
    return render_template("admin/rules.html", rules=rules.all_rules(session), editing=editing,
                           draft=rules.rule_dict(editing) if editing else None, hits=None,
                           **_builder_context(session))


@bp.post("/admin/rules")
@login_required
@require_role(Role.admin)
def rule_save() -> Any:
    session = db_session()
    editing = rules.get_rule(session, request.form["id"]) if request.form.get("id") else None
    try:
        data = _rule_form()
        if request.form.get("dry_run"):
            return _dry_run(session, data, editing)
        if editing is None:
            rule = rules.create_rule(session, current_actor(), data, current_app.config)
        else:
            rule = rules.update_rule(session, current_actor(), editing, data, current_app.config)
        commit()
        flash(f"Rule '{rule.name}' saved.", "success")
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
        if editing is not None:
            return redirect(url_for("rules.rule_list", id=editing.public_id), code=303)
    return redirect(url_for("rules.rule_list"), code=303)


def _dry_run(session: Any, data: dict[str, Any], editing: AutomationRule | None) -> Any:
    """Show what the rule in the builder would do to recent conversations; nothing is written."""
    conditions = clean_conditions(data["conditions"])
    actions = clean_actions(data["actions"])
    if data["event"] not in builder_schema()["events"]:
        raise Invalid("event", "choose an event")
    hits = engine.dry_run(session, data["event"], conditions, actions, current_runtime().clock(), DRY_RUN_LIMIT)
    session.rollback()
    draft = {**data, "conditions": conditions, "actions": actions,
             "id": editing.public_id if editing else None}
    return render_template("admin/rules.html", rules=rules.all_rules(session), editing=editing, draft=draft,
                           hits=hits, dry_run_limit=DRY_RUN_LIMIT, **_builder_context(session))


@bp.post("/admin/rules/<public_id>/active")
@login_required
@require_role(Role.admin)
def rule_toggle(public_id: str) -> Any:
    session = db_session()
    rule = rules.get_rule(session, public_id)
    rules.update_rule(session, current_actor(), rule, {"active": request.form.get("active") == "1"},
                      current_app.config)
    commit()
    flash(f"Rule '{rule.name}' is {'on' if rule.active else 'off'}.", "success")
    return redirect(url_for("rules.rule_list"), code=303)


@bp.post("/admin/rules/<public_id>/delete")
@login_required
@require_role(Role.admin)
def rule_delete(public_id: str) -> Any:
    session = db_session()
    rule = rules.get_rule(session, public_id)
    rules.delete_rule(session, current_actor(), rule)
    commit()
    flash(f"Rule '{rule.name}' deleted.", "success")
    return redirect(url_for("rules.rule_list"), code=303)


# -- macros ------------------------------------------------------------------------------------

@bp.get("/console/macros")
@login_required
def macro_list() -> Any:
    session = db_session()
    editing = macros.get_macro(session, current_actor(), request.args["id"]) if request.args.get("id") else None
    return render_template("console/macros.html", macros=macros.visible_macros(session, current_actor()),
                           editing=editing, draft=macros.macro_dict(editing) if editing else None,
                           can_share=current_user.has_role(Role.manager), **_builder_context(session))


@bp.post("/console/macros")
@login_required
def macro_save() -> Any:
    session = db_session()
    actor = current_actor()
    try:
        editing = macros.get_macro(session, actor, request.form["id"]) if request.form.get("id") else None
        data = {"name": request.form.get("name", ""), "actions": _json_field("actions_json"),
                "shared": request.form.get("shared") == "1"}
        if editing is None:
            macro = macros.create_macro(session, actor, data, current_app.config)
        else:
            macro = macros.update_macro(session, actor, editing, data, current_app.config)
        commit()
        flash(f"Macro '{macro.name}' saved.", "success")
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("rules.macro_list"), code=303)


@bp.post("/console/macros/<public_id>/delete")
@login_required
def macro_delete(public_id: str) -> Any:
    session = db_session()
    try:
        macros.delete_macro(session, current_actor(), macros.get_macro(session, current_actor(), public_id))
        commit()
        flash("Macro deleted.", "success")
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("rules.macro_list"), code=303)


@bp.post("/console/c/<public_id>/macro")
@login_required
def macro_apply_form(public_id: str) -> Any:
    session = db_session()
    actor = current_actor()
    conv = services.get_conversation(session, public_id, actor)
    if not request.form.get("macro"):
        abort(400, "choose a macro")
    try:
        macro = macros.get_macro(session, actor, request.form["macro"])
        done = macros.apply_macro(session, actor, conv, macro)
        commit()
        flash(f"Macro '{macro.name}': {'; '.join(done) or 'nothing to change'}.", "success")
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("console.conversation", public_id=conv.public_id), code=303)
