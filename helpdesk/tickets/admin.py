"""Admin pages for inboxes and teams."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from helpdesk.accounts.models import Agent, Role
from helpdesk.errors import DomainError
from helpdesk.tickets import assignment, inbox_admin, services
from helpdesk.tickets.models import Channel, Inbox, Team
from helpdesk.web import commit, current_actor, db_session, require_role

bp = Blueprint("tickets_admin", __name__, url_prefix="/admin")


@bp.get("/inboxes")
@login_required
@require_role(Role.admin)
def inboxes() -> Any:
    db = db_session()
    # A secret is shown once, after the redirect that made it, with a copy button; never in a URL.
    shown = session.pop("shown_secret", None)
    return render_template("admin/inboxes.html", shown=shown,
                           inboxes=db.scalars(select(Inbox).order_by(Inbox.name)).all(),
                           teams=db.scalars(select(Team).order_by(Team.name)).all(),
                           channels=[c.value for c in Channel])


def _show_once(label: str, value: str, note: str) -> None:
    session["shown_secret"] = {"label": label, "value": value, "note": note}


@bp.post("/inboxes")
@login_required
@require_role(Role.admin)
def inboxes_create() -> Any:
    session = db_session()
    form = request.form
    team = session.scalar(select(Team).filter_by(public_id=form.get("team", ""))) if form.get("team") else None
    try:
        inbox, shown = services.create_inbox(session, current_actor(), name=form.get("name", ""),
                                             channel=form.get("channel", ""),
                                             address=form.get("address") or None, team=team)
        commit()
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("tickets_admin.inboxes")), 303
    if inbox.channel is Channel.chat:
        flash(_("Chat inbox %(name)s created.", name=inbox.name), "success")
        _show_once(_("Site key of %(name)s", name=inbox.name), shown,
                   _("Put it in the widget snippet (below in the list)."))
    elif inbox.channel is Channel.phone:
        flash(_("Phone inbox %(name)s created: calls logged with New call go here.", name=inbox.name), "success")
    else:
        flash(_("Email inbox %(name)s created.", name=inbox.name), "success")
        _show_once(_("Ingest token of %(name)s", name=inbox.name), shown,
                   _("Shown only now: copy it into your mail provider's webhook URL (?token=…). "
                     "Lost it? Make a new one under Edit."))
    return redirect(url_for("tickets_admin.inboxes")), 303


def _team_of(public_id: str | None) -> Team | None:
    if not public_id:
        return None
    team = db_session().scalar(select(Team).filter_by(public_id=public_id))
    if team is None:
        abort(400, "unknown team")
    return team


@bp.post("/inboxes/<public_id>")
@login_required
@require_role(Role.admin)
def inbox_update(public_id: str) -> Any:
    inbox = _inbox(public_id)
    form = request.form
    try:
        inbox_admin.update_inbox(db_session(), current_actor(), inbox, name=form.get("name", ""),
                                 team=_team_of(form.get("team")), address=form.get("address"))
        commit()
        flash(_("Inbox %(name)s saved.", name=inbox.name), "success")
    except DomainError as exc:
        db_session().rollback()
        flash(exc.message, "error")
    return redirect(url_for("tickets_admin.inboxes")), 303


@bp.post("/inboxes/<public_id>/token")
@login_required
@require_role(Role.admin)
def inbox_token(public_id: str) -> Any:
    inbox = _inbox(public_id)
    try:
        shown = inbox_admin.new_ingest_token(db_session(), current_actor(), inbox)
        commit()
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("tickets_admin.inboxes")), 303
    _show_once(_("New ingest token of %(name)s", name=inbox.name), shown,
               _("The old token stopped working just now: update your mail provider's webhook URL."))
    return redirect(url_for("tickets_admin.inboxes")), 303


@bp.post("/inboxes/<public_id>/delete")
@login_required
@require_role(Role.admin)
def inbox_delete(public_id: str) -> Any:
    inbox = _inbox(public_id)
    name = inbox.name
    try:
        inbox_admin.delete_inbox(db_session(), current_actor(), inbox)
        commit()
        flash(_("Inbox %(name)s deleted.", name=name), "success")
    except DomainError as exc:
        db_session().rollback()
        flash(exc.message, "error")
    return redirect(url_for("tickets_admin.inboxes")), 303


@bp.get("/teams")
@login_required
@require_role(Role.admin)
def teams() -> Any:
    session = db_session()
    return render_template("admin/teams.html",
                           teams=session.scalars(select(Team).order_by(Team.name)).all(),
                           agents=session.scalars(select(Agent).filter_by(active=True).order_by(Agent.name)).all())


@bp.post("/teams")
@login_required
@require_role(Role.admin)
def teams_create() -> Any:
    session = db_session()
    ids = request.form.getlist("members")
    members = session.scalars(select(Agent).where(Agent.public_id.in_(ids))).all() if ids else []
    try:
        team = services.create_team(session, current_actor(), name=request.form.get("name", ""),
                                    members=members)
        commit()
        flash(f"Team {team.name} created.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("tickets_admin.teams")), 303


@bp.get("/inboxes/<public_id>/assignment")
@login_required
@require_role(Role.admin)
def inbox_assignment(public_id: str) -> Any:
    session = db_session()
    inbox = _inbox(public_id)
    return render_template("admin/inbox_assignment.html", inbox=inbox,
                           agents=session.scalars(select(Agent).filter_by(active=True).order_by(Agent.name)).all())


@bp.post("/inboxes/<public_id>/assignment")
@login_required
@require_role(Role.admin)
def inbox_assignment_save(public_id: str) -> Any:
    session = db_session()
    inbox = _inbox(public_id)
    form = request.form
    email = inbox.channel is Channel.email  # chat's round-robin lives on its chat settings page
    ids = form.getlist("members")
    members = list(session.scalars(select(Agent).where(Agent.public_id.in_(ids)))) if ids else []
    try:
        assignment.configure(session, current_actor(), inbox, assign_on_reply=form.get("assign_on_reply") == "1",
                             auto_assign=(form.get("auto_assign") == "1") if email else None,
                             max_open_per_agent=form.get("max_open_per_agent", "0") if email else None,
                             members=members if email else None)
        commit()
        flash(f"Assignment of {inbox.name} saved.", "success")
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("tickets_admin.inbox_assignment", public_id=public_id)), 303


def _inbox(public_id: str) -> Inbox:
    inbox = db_session().scalar(select(Inbox).filter_by(public_id=public_id))
    if inbox is None:
        abort(404)
    return inbox
