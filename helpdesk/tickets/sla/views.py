"""The admin page of service levels: business-hours calendars and SLA policies, by forms."""

from __future__ import annotations

from typing import Any

from babel.dates import get_day_names
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from helpdesk.accounts.models import Role
from helpdesk.errors import DomainError
from helpdesk.i18n.web import current_locale
from helpdesk.tickets.models import Channel, Inbox, Priority
from helpdesk.tickets.sla import calendar as cal
from helpdesk.tickets.sla import services
from helpdesk.web import commit, current_actor, db_session, require_role

bp = Blueprint("sla_admin", __name__, url_prefix="/admin/service-levels")



def day_names() -> dict[str, str]:
    """"mon" -> "Monday" / "Montag": CLDR's weekday names in the console's language (0 = Monday)."""
    names = get_day_names("wide", locale=current_locale())
    return {key: names[i].capitalize() for i, key in enumerate(cal.WEEKDAYS)}

SLOTS = 2  # intervals per day on the form: morning and afternoon


def hours_from_form(form: MultiDict[str, str]) -> dict[str, list[list[str]]]:
    """`mon_1_from`/`mon_1_to` ... as the API's {"mon": [["09:00", "17:00"]]}; a half-filled slot is
    sent on, so that validation names it instead of dropping it silently."""
    hours: dict[str, list[list[str]]] = {}
    for day in cal.WEEKDAYS:
        for slot in range(1, SLOTS + 1):
            start, end = form.get(f"{day}_{slot}_from", "").strip(), form.get(f"{day}_{slot}_to", "").strip()
            if start or end:
                hours.setdefault(day, []).append([start, end])
    return hours


def holidays_from_form(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def policy_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    match: dict[str, Any] = {}
    if form.get("inbox"):
        match["inbox"] = form["inbox"]
    if form.get("channel"):
        match["channel"] = form["channel"]
    if priorities := form.getlist("priority"):
        match["priority"] = priorities
    if tags := [t.strip() for t in form.get("tags", "").split(",") if t.strip()]:
        match["tags"] = tags
    return {"name": form.get("name", ""), "business_hours": form.get("business_hours") or None,
            "match": match, "targets": {k: form.get(k) or None for k in (
                "first_response_minutes", "next_response_minutes", "resolution_minutes")}}


def _page() -> Any:
    return redirect(url_for("sla_admin.page"), code=303)


@bp.get("")
@login_required
@require_role(Role.admin)
def page() -> Any:
    session = db_session()
    policies = services.list_policies(session)
    editing = next((p for p in policies if p.public_id == request.args.get("edit")), None)
    calendars = services.list_business_hours(session)
    editing_hours = next((c for c in calendars if c.public_id == request.args.get("edit_hours")), None)
    inboxes = session.scalars(select(Inbox).order_by(Inbox.name)).all()
    return render_template("admin/service_levels.html", calendars=calendars, policies=policies,
                           editing=editing, editing_hours=editing_hours, inboxes=inboxes,
                           inbox_names={i.public_id: i.name for i in inboxes},
                           channels=[c.value for c in Channel], priorities=[p.value for p in Priority],
                           days=day_names(), slots=range(1, SLOTS + 1))


@bp.post("/business-hours")
@login_required
@require_role(Role.admin)
def hours_save() -> Any:
    session = db_session()
    form = request.form
    fields = {"name": form.get("name", ""), "timezone": form.get("timezone", ""),
              "hours": hours_from_form(form), "holidays": holidays_from_form(form.get("holidays", ""))}
    try:
        if form.get("id"):
            row = services.get_business_hours(session, form["id"])
            services.update_business_hours(session, current_actor(), row, **fields)
        else:
            row = services.create_business_hours(session, current_actor(), **fields)
        commit()
        flash(f"Business hours {row.name} saved.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return _page()


@bp.post("/business-hours/<public_id>/delete")
@login_required
@require_role(Role.admin)
def hours_delete(public_id: str) -> Any:
    session = db_session()
    try:
        services.delete_business_hours(session, current_actor(), services.get_business_hours(session, public_id))
        commit()
        flash("Business hours deleted.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return _page()


@bp.post("/policies")
@login_required
@require_role(Role.admin)
def policy_save() -> Any:
    session = db_session()
    data = policy_from_form(request.form)
    try:
        if request.form.get("id"):
            policy = services.update_policy(session, current_actor(),
                                            services.get_policy(session, request.form["id"]), data)
        else:
            policy = services.create_policy(session, current_actor(), data)
        commit()
        flash(f"Policy {policy.name} saved.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return _page()


@bp.post("/policies/<public_id>/move")
@login_required
@require_role(Role.admin)
def policy_move(public_id: str) -> Any:
    """Swap with the neighbour above or below: the order decides which policy a conversation gets."""
    session = db_session()
    policies = services.list_policies(session)
    index = next((i for i, p in enumerate(policies) if p.public_id == public_id), None)
    other = None if index is None else index + (-1 if request.form.get("direction") == "up" else 1)
    if index is not None and other is not None and 0 <= other < len(policies):
        order = [p.public_id for p in policies]
        order[index], order[other] = order[other], order[index]
        for position, ref in enumerate(order):
            policy = policies[[p.public_id for p in policies].index(ref)]
            if policy.position != position:
                services.update_policy(session, current_actor(), policy, {"position": position})
        commit()
    return _page()


@bp.post("/policies/<public_id>/delete")
@login_required
@require_role(Role.admin)
def policy_delete(public_id: str) -> Any:
    session = db_session()
    services.delete_policy(session, current_actor(), services.get_policy(session, public_id))
    commit()
    flash("Policy deleted.", "success")
    return _page()
