"""REST /api/v1/customers: search, create, the 360 view, edit, merge/split, export, GDPR erase.

Routes hang on the one API blueprint (token auth and error shape come with it)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request
from sqlalchemy.orm import Session

from helpdesk.api.views import actor, bp
from helpdesk.crm import services as crm
from helpdesk.crm import sync
from helpdesk.crm.models import Customer
from helpdesk.customers360 import services
from helpdesk.customers360.queries import customer_360, customer_summary
from helpdesk.customers360.views import find_customer
from helpdesk.db import MAX_INT
from helpdesk.errors import Invalid
from helpdesk.marketing import consent
from helpdesk.tickets import queries
from helpdesk.web import commit, db_session, json_body

PATCHABLE = {"name", "email", "phone", "attributes", "marketing_consent", "locale"}


def _crm() -> str | None:
    return sync.provider_name(current_app.config)


def _360(session: Session, customer: Customer) -> dict[str, Any]:
    view = customer_360(session, customer, crm_provider=_crm())
    view["marketing"] = consent.consent_view(session, crm.resolve(session, customer), current_app.config)
    return view


def _text(data: dict[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is not None and not isinstance(value, str):
        raise Invalid(field, "must be text")
    return value


@bp.get("/customers")
def customers_list() -> Any:
    args = request.args
    limit = queries.parse_limit(args.get("limit"))
    cursor = args.get("cursor") or None
    if cursor is not None and not (cursor.isdigit() and len(cursor) <= 10 and int(cursor) <= MAX_INT):
        raise Invalid("cursor", "not a cursor this API gave out")
    rows = crm.search_customers(
        db_session(),
        email=args.get("email") or None,
        q=args.get("q") or None,
        limit=limit + 1,
        after_id=int(cursor) if cursor else None,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify(data=[customer_summary(c) for c in rows], next_cursor=str(rows[-1].id) if more else None)


@bp.post("/customers")
def customers_create() -> Any:
    data = json_body()
    customer = crm.create_customer(
        db_session(),
        actor(),
        email=_text(data, "email"),
        name=_text(data, "name"),
        phone=_text(data, "phone"),
    )
    commit()
    return jsonify(_360(db_session(), customer)), 201


@bp.get("/customers/<public_id>")
def customers_get(public_id: str) -> Any:
    session = db_session()
    return jsonify(_360(session, crm.get_customer(session, public_id)))


@bp.patch("/customers/<public_id>")
def customers_patch(public_id: str) -> Any:
    session = db_session()
    data = json_body()
    if unknown := set(data) - PATCHABLE - {"note"}:
        raise Invalid(
            sorted(unknown)[0], f"not a field that can be changed; use {', '.join(sorted(PATCHABLE))}"
        )
    customer = crm.get_customer(session, public_id)
    attributes = data.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        raise Invalid("attributes", "an object")
    crm.update_customer(
        session,
        actor(),
        customer,
        name=_text(data, "name"),
        email=_text(data, "email"),
        phone=_text(data, "phone"),
        attributes=attributes,
        locale=data.get("locale", ...),
    )
    if "note" in data:
        crm.add_note(session, actor(), customer, _text(data, "note") or "")
    if "marketing_consent" in data:
        consent.set_consent(session, actor(), customer, data["marketing_consent"], source="api",
                            sync=consent.mailchimp_on(current_app.config))
    commit()
    return jsonify(_360(session, customer))


@bp.post("/customers/<public_id>/merge")
def customers_merge(public_id: str) -> Any:
    session = db_session()
    data = json_body()
    target = crm.get_customer(session, public_id)
    source = find_customer(session, _text(data, "source") or "")
    record = services.merge(session, actor(), target, source)
    commit()
    return jsonify({**_360(session, target), "merge": {"id": record.id, "moved": record.moved}})


@bp.post("/customers/<public_id>/split")
def customers_split(public_id: str) -> Any:
    session = db_session()
    data = json_body()
    customer = crm.get_customer(session, public_id)
    record = services.split(session, actor(), customer, _text(data, "identity") or "")
    commit()
    other = crm.get_customer(session, session.get(type(customer), record.target_id).public_id)
    return jsonify({"customer": _360(session, customer), "split_off": _360(session, other)})


@bp.get("/customers/<public_id>/export")
def customers_export(public_id: str) -> Any:
    session = db_session()
    response = jsonify(services.export(session, crm.get_customer(session, public_id), crm_provider=_crm()))
    response.headers["Content-Disposition"] = f'attachment; filename="customer-{public_id}.json"'
    return response


@bp.post("/customers/<public_id>/erase")
def customers_erase(public_id: str) -> Any:
    session = db_session()
    customer = services.erase(session, actor(), crm.get_customer(session, public_id),
                              crm_delete=bool(current_app.config.get("CRM_ERASE")),
                              mailchimp=consent.mailchimp_on(current_app.config))
    commit()
    return jsonify(_360(session, customer))
