"""Console pages of the whole customer: the list, the 360 page, and the conversation sidebar."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.crm import services as crm
from helpdesk.crm import sync
from helpdesk.crm.models import Customer, IdentityKind
from helpdesk.customers360 import services
from helpdesk.customers360.queries import customer_360
from helpdesk.db import MAX_INT
from helpdesk.errors import DomainError, Invalid
from helpdesk.marketing import consent
from helpdesk.orders.views import customer_orders
from helpdesk.web import commit, current_actor, db_session

bp = Blueprint("customers", __name__)
PAGE = 50


def find_customer(session: Any, ref: str) -> Customer:
    """A customer by public id or by any email identity (what an agent types in the merge box)."""
    ref = (ref or "").strip()
    if "@" in ref:
        customer = crm.find_by_identity(session, IdentityKind.email, ref.lower())
        if customer is None:
            raise Invalid("source", f"no customer with email {ref}")
        return customer
    return crm.get_customer(session, ref)


@bp.get("/console/customers")
@login_required
def customer_list() -> Any:
    session = db_session()
    q = request.args.get("q", "")
    try:
        after = int(request.args.get("after") or 0) or None
    except ValueError:
        after = None
    if after is not None and not 0 < after <= MAX_INT:
        after = None
    rows = crm.search_customers(session, q=q or None, limit=PAGE + 1, after_id=after)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    contacts = {}
    if rows:
        from helpdesk.crm.models import CrmContact

        for link in session.scalars(
            select(CrmContact).where(CrmContact.customer_id.in_([c.id for c in rows]))
        ):
            contacts.setdefault(link.customer_id, link)
    return render_template(
        "crm/customers.html",
        customers=rows,
        contacts=contacts,
        q=q,
        next_after=rows[-1].id if more and rows else None,
    )


@bp.get("/console/customers/<public_id>")
@login_required
def customer_page(public_id: str) -> Any:
    session = db_session()
    customer = crm.get_customer(session, public_id)
    if customer.public_id != public_id:
        return redirect(url_for("customers.customer_page", public_id=customer.public_id))
    provider = sync.provider_name(current_app.config)
    view = customer_360(session, customer, crm_provider=provider)
    identities = {i.id: i for i in customer.identities}
    return render_template(
        "crm/customer.html", customer=customer, c=view, identities=identities, provider=provider,
        co=customer_orders(session, customer),
        marketing=consent.consent_view(session, customer, current_app.config),
    )


def _act(public_id: str, action: Any, done: str) -> Any:
    session = db_session()
    customer = crm.get_customer(session, public_id)
    try:
        result = action(session, customer)
        commit()
        flash(done, "success")
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
        result = None
    target = result if isinstance(result, Customer) else customer
    return redirect(url_for("customers.customer_page", public_id=target.public_id), code=303)


@bp.post("/console/customers/<public_id>/notes")
@login_required
def add_note(public_id: str) -> Any:
    return _act(
        public_id,
        lambda s, c: crm.add_note(s, current_actor(), c, request.form.get("body", "")),
        "Note added.",
    )


@bp.post("/console/customers/<public_id>/edit")
@login_required
def edit(public_id: str) -> Any:
    form = request.form
    return _act(
        public_id,
        lambda s, c: crm.update_customer(
            s,
            current_actor(),
            c,
            name=form.get("name"),
            phone=form.get("phone") or None,
            email=form.get("email") or None,
        ),
        "Customer saved.",
    )


@bp.post("/console/customers/<public_id>/consent")
@login_required
def set_consent(public_id: str) -> Any:
    """The 360 page's marketing card: an agent records the customer's yes or no (audited)."""
    choice = {"1": True, "0": False}.get(request.form.get("consent", ""))
    return _act(
        public_id,
        lambda s, c: consent.set_consent(s, current_actor(), c, choice, source="console",
                                         sync=consent.mailchimp_on(current_app.config)),
        "Marketing consent saved." + (" It is being sent to Mailchimp." if consent.mailchimp_on(current_app.config)
                                      else ""),
    )


@bp.post("/console/customers/<public_id>/merge")
@login_required
def merge(public_id: str) -> Any:
    def run(session: Any, customer: Customer) -> Customer:
        source = find_customer(session, request.form.get("source", ""))
        services.merge(session, current_actor(), customer, source)
        return customer

    return _act(
        public_id, run, "Customers merged. The merge is in the audit log; split an identity off to undo it."
    )


@bp.post("/console/customers/<public_id>/split")
@login_required
def split(public_id: str) -> Any:
    def run(session: Any, customer: Customer) -> Customer:
        services.split(session, current_actor(), customer, request.form.get("identity", ""))
        return customer

    return _act(public_id, run, "Identity split off into its own customer.")


@bp.post("/console/customers/<public_id>/erase")
@login_required
def erase(public_id: str) -> Any:
    return _act(
        public_id,
        lambda s, c: services.erase(s, current_actor(), c, crm_delete=bool(current_app.config.get("CRM_ERASE")),
                                    mailchimp=consent.mailchimp_on(current_app.config)),
        "Customer erased: profile, identities, CRM data, notes, message texts, raw mails, order "
        "addresses and chat sessions are gone.",
    )


def sidebar_data(session: Session, conversation: Any) -> dict[str, Any]:
    """The conversation page's customer card (crm/_sidebar.html): a panel of the
    "conversation.sidebar" slot, which the tickets room's page asks for."""
    settings = current_app.config
    view = customer_360(session, conversation.customer, crm_provider=sync.provider_name(settings))
    link = sync.conversation_link(session, settings, conversation.id)
    view["this_ticket"] = (
        {"url": link.url, "external_id": link.external_id, "state": link.state.value} if link else None
    )
    view["other_conversations"] = [c for c in view["conversations"] if c["id"] != conversation.public_id]
    return view


@bp.get("/console/customers/<public_id>/export")
@login_required
def export(public_id: str) -> Any:
    from flask import jsonify

    session = db_session()
    response = jsonify(services.export(session, crm.get_customer(session, public_id),
                                           crm_provider=sync.provider_name(current_app.config)))
    response.headers["Content-Disposition"] = f'attachment; filename="customer-{public_id}.json"'
    return response
