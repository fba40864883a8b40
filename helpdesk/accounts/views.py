"""Login, logout, and the admin pages for agents and API tokens."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from helpdesk.accounts import services
from helpdesk.accounts.models import Agent, AuditEntry, Role
from helpdesk.errors import DomainError, Invalid
from helpdesk.extensions import limiter, login_manager
from helpdesk.web import commit, current_actor, db_session, local_url, require_role

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def _load_agent(session_id: str) -> Agent | None:
    return services.load_session_agent(db_session(), session_id)



@bp.get("/login")
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("console.queue"))
    return render_template("login.html", next=request.args.get("next", ""))


@bp.post("/login")
@limiter.limit("10/minute")
def login_post() -> Any:
    email = request.form.get("email", "")
    agent = services.authenticate(db_session(), email, request.form.get("password", ""))
    if agent is None:
        return render_template("login.html", error="Wrong email or password, or the account is disabled.",
                               email=email, next=request.form.get("next", "")), 401
    commit()
    login_user(agent, remember=bool(request.form.get("remember")))
    return redirect(local_url(request.form.get("next"), url_for("console.queue")))


@bp.post("/logout")
def logout() -> Any:
    logout_user()
    return redirect(url_for("accounts.login"))


@bp.get("/admin/agents")
@login_required
@require_role(Role.admin)
def agents() -> Any:
    rows = db_session().scalars(select(Agent).order_by(Agent.active.desc(), Agent.name)).all()
    return render_template("admin/agents.html", agents=rows, all_roles=list(Role))


@bp.post("/admin/agents")
@login_required
@require_role(Role.admin)
def agents_create() -> Any:
    form = request.form
    try:
        agent = services.create_agent(db_session(), current_actor(), email=form.get("email", ""),
                                      password=form.get("password", ""), name=form.get("name", ""),
                                      role=form.get("role", "agent"))
        commit()
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accounts.agents")), 303
    flash(f"Agent {agent.email} created.", "success")
    return redirect(url_for("accounts.agents")), 303


@bp.post("/admin/agents/<public_id>")
@login_required
@require_role(Role.admin)
def agents_update(public_id: str) -> Any:
    session = db_session()
    agent = services.get_agent(session, public_id)
    form = request.form
    active = {"1": True, "0": False}.get(form.get("active", ""))
    try:
        services.update_agent(session, current_actor(), agent, name=form.get("name"),
                              role=form.get("role") or None, active=active,
                              password=form.get("password") or None)
        commit()
        flash(f"Agent {agent.email} updated.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("accounts.agents")), 303


@bp.get("/settings/profile")
@login_required
def profile() -> Any:
    return render_template("profile.html")


@bp.post("/settings/profile")
@login_required
def profile_save() -> Any:
    session = db_session()
    agent = current_user._get_current_object()
    form = request.form
    new_password = form.get("new_password", "")
    try:
        if new_password:
            if services.authenticate(session, agent.email, form.get("current_password", "")) is None:
                raise Invalid("current_password", "that is not your current password")
            if new_password != form.get("confirm_password", ""):
                raise Invalid("confirm_password", "the two new passwords differ")
        services.update_own_profile(session, agent, name=form.get("name", ""), password=new_password or None)
        commit()
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accounts.profile")), 303
    if new_password:
        login_user(agent)  # the password change ended every session; keep this one
    flash("Profile saved.", "success")
    return redirect(url_for("accounts.profile")), 303


@bp.get("/settings/tokens")
@login_required
def tokens() -> Any:
    return render_template("tokens.html", tokens=current_user.tokens)


@bp.post("/settings/tokens")
@login_required
def tokens_create() -> Any:
    session = db_session()
    agent = current_user._get_current_object()
    token = services.create_api_token(session, current_actor(), agent, request.form.get("name", "")[:120])
    commit()
    return render_template("tokens.html", tokens=agent.tokens, new_token=token)


@bp.get("/admin/audit")
@login_required
@require_role(Role.admin)
def audit_log() -> Any:
    rows = db_session().scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(200)).all()
    return render_template("admin/audit.html", entries=rows)
