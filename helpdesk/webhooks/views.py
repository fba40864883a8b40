"""The admin console page for outgoing webhooks: list, add, edit, delete, send a test, last deliveries."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from helpdesk.accounts.models import Role
from helpdesk.errors import DomainError
from helpdesk.web import commit, current_actor, db_session, require_role
from helpdesk.webhooks import delivery
from helpdesk.webhooks import services as webhooks

bp = Blueprint("webhooks_admin", __name__)
RECENT = 20


def _form() -> dict[str, Any]:
    form = request.form
    data: dict[str, Any] = {"url": form.get("url", ""), "events": form.getlist("events"),
                            "description": form.get("description", ""), "active": form.get("active") == "1"}
    if form.get("secret"):
        data["secret"] = form["secret"]
    return data


@bp.get("/admin/webhooks")
@login_required
@require_role(Role.admin)
def page() -> Any:
    session = db_session()
    actor = current_actor()
    subs, _ = webhooks.page(session, actor, limit=100, cursor=None)
    editing = webhooks.get(session, actor, request.args["id"]) if request.args.get("id") else None
    recent = webhooks.deliveries(session, editing, limit=RECENT, cursor=None)[0] if editing else []
    return render_template("admin/webhooks.html", subs=subs, editing=editing, recent=recent,
                           events=webhooks.EVENTS)


@bp.post("/admin/webhooks")
@login_required
@require_role(Role.admin)
def save() -> Any:
    session = db_session()
    actor = current_actor()
    editing = None
    try:
        editing = webhooks.get(session, actor, request.form["id"]) if request.form.get("id") else None
        if editing is None:
            sub = webhooks.create(session, actor, _form(), current_app.config)
        else:
            sub = webhooks.update(session, actor, editing, _form(), current_app.config)
        commit()
        flash(f"Webhook {sub.url} saved.", "success")
        return redirect(url_for("webhooks_admin.page", id=sub.public_id), code=303)
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("webhooks_admin.page", id=editing.public_id if editing else None), code=303)


@bp.post("/admin/webhooks/<public_id>/test")
@login_required
@require_role(Role.admin)
def send_test(public_id: str) -> Any:
    session = db_session()
    sub = webhooks.get(session, current_actor(), public_id)
    delivery.enqueue(session, delivery.TEST_EVENT, {"message": "A test delivery from Helpdesk."},
                     current_app.config, only=sub)
    commit()
    flash("A test delivery is on its way; reload to see its answer.", "success")
    return redirect(url_for("webhooks_admin.page", id=public_id), code=303)


@bp.post("/admin/webhooks/<public_id>/delete")
@login_required
@require_role(Role.admin)
def delete(public_id: str) -> Any:
    session = db_session()
    sub = webhooks.get(session, current_actor(), public_id)
    webhooks.delete(session, current_actor(), sub)
    commit()
    flash(f"Webhook {sub.url} deleted.", "success")
    return redirect(url_for("webhooks_admin.page"), code=303)
