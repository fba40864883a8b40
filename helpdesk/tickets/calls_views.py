"""The console's phone pages: "New call" (a call that opens a conversation) and "Log call" on one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from helpdesk.crm import services as crm
from helpdesk.crm.models import Customer
from helpdesk.errors import DomainError, Invalid, NotFound
from helpdesk.tickets import calls, services
from helpdesk.tickets.models import CallDirection
from helpdesk.web import commit, current_actor, db_session

bp = Blueprint("calls", __name__)


def _call_input() -> calls.CallInput:
    form = request.form
    return calls.check_call(direction=form.get("direction", ""), duration_seconds=form.get("duration", ""),
                            notes=form.get("notes", ""), phone=form.get("phone") or None,
                            recording_url=form.get("recording_url") or None)


@bp.get("/console/calls/new")
@login_required
def new_call() -> Any:
    return _new_call_page()


def _new_call_page(error: str | None = None, status: int = 200) -> Any:
    session = db_session()
    q = (request.values.get("q") or "").strip()[:200]
    found = crm.search_customers(session, q=q, limit=10) if q else []
    chosen = None
    if ref := request.values.get("customer"):
        try:
            chosen = crm.get_customer(session, ref)
        except NotFound:
            chosen = None
    choices = ([chosen] if chosen else []) + [c for c in found if chosen is None or c.id != chosen.id]
    return render_template("console/call_new.html", q=q, choices=choices, form=request.form,
                           error=error), status


@bp.app_template_global("format_call_duration")
def format_call_duration(seconds: int) -> str:
    return calls.format_duration(seconds)


@bp.post("/console/calls")
@login_required
def create_call() -> Any:
    session = db_session()
    form = request.form
    try:
        call = _call_input()
        customer = _customer(session, call)
        record = calls.log_call(session, current_actor(), call, customer=customer,
                                subject=form.get("subject", "") or _subject(call, customer),
                                client_msg_id=form.get("client_msg_id") or None)
        commit()
    except DomainError as exc:
        session.rollback()
        return _new_call_page(exc.message, 422)
    flash(_("Call logged."), "success")
    return redirect(url_for("console.conversation", public_id=record.message.conversation.public_id), code=303)


def _subject(call: calls.CallInput, customer: Customer) -> str:
    """The new conversation's subject in the agent's language."""
    name = customer.name or call.phone or customer.phone or customer.email or ""
    if call.direction is CallDirection.inbound:
        return _("Call from %(name)s", name=name)
    return _("Call to %(name)s", name=name)


def _customer(session: Any, call: calls.CallInput) -> Customer:
    form = request.form
    if ref := form.get("customer"):
        try:
            return crm.get_customer(session, ref)
        except NotFound:
            raise Invalid("customer", _("no such customer")) from None
    email, phone, name = form.get("email") or None, form.get("phone") or None, form.get("name") or None
    if not (email or phone):
        raise Invalid("customer", _("pick a customer, or give the caller's phone number or email"))
    return crm.identify(session, current_actor(), email=email, phone=phone, name=name)


@bp.post("/console/c/<public_id>/calls")
@login_required
def log_call(public_id: str) -> Any:
    session = db_session()
    conv = services.get_conversation(session, public_id, current_actor())
    try:
        calls.log_call(session, current_actor(), _call_input(), conversation=conv,
                       client_msg_id=request.form.get("client_msg_id") or None)
        commit()
        flash(_("Call logged."), "success")
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("console.conversation", public_id=public_id), code=303)
