"""REST /api/v1 for business hours and SLA policies (admin writes). Same blueprint, token auth
and error shape as api/views.py."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from helpdesk.api.views import actor, bp
from helpdesk.errors import Invalid
from helpdesk.tickets.sla import services as sla
from helpdesk.tickets.sla.serialize import business_hours_dict, policy_dict
from helpdesk.web import commit, db_session, json_body


@bp.get("/business-hours")
def business_hours_list() -> Any:
    return jsonify(data=[business_hours_dict(r) for r in sla.list_business_hours(db_session())])


@bp.post("/business-hours")
def business_hours_create() -> Any:
    data = json_body()
    row = sla.create_business_hours(db_session(), actor(), name=data.get("name"), timezone=data.get("timezone"),
                                    hours=data.get("hours"), holidays=data.get("holidays") or [])
    commit()
    return jsonify(business_hours_dict(row)), 201


@bp.get("/business-hours/<public_id>")
def business_hours_get(public_id: str) -> Any:
    return jsonify(business_hours_dict(sla.get_business_hours(db_session(), public_id)))


@bp.patch("/business-hours/<public_id>")
def business_hours_patch(public_id: str) -> Any:
    session = db_session()
    row = sla.get_business_hours(session, public_id)
    body = json_body()
    if unknown := sorted(set(body) - {"name", "timezone", "hours", "holidays"}):
        raise Invalid(unknown[0], "not a field of business hours; use holidays, hours, name, timezone")
    data = {"name": row.name, "timezone": row.timezone, "hours": row.hours, "holidays": row.holidays, **body}
    sla.update_business_hours(session, actor(), row, name=data["name"], timezone=data["timezone"],
                              hours=data["hours"], holidays=data["holidays"] or [])
    commit()
    return jsonify(business_hours_dict(row))


@bp.delete("/business-hours/<public_id>")
def business_hours_delete(public_id: str) -> Any:
    session = db_session()
    sla.delete_business_hours(session, actor(), sla.get_business_hours(session, public_id))
    commit()
    return "", 204


@bp.get("/sla-policies")
def sla_policies_list() -> Any:
    return jsonify(data=[policy_dict(p) for p in sla.list_policies(db_session())])


@bp.post("/sla-policies")
def sla_policies_create() -> Any:
    policy = sla.create_policy(db_session(), actor(), json_body())
    commit()
    return jsonify(policy_dict(policy)), 201


@bp.get("/sla-policies/<public_id>")
def sla_policies_get(public_id: str) -> Any:
    return jsonify(policy_dict(sla.get_policy(db_session(), public_id)))


@bp.patch("/sla-policies/<public_id>")
def sla_policies_patch(public_id: str) -> Any:
    session = db_session()
    policy = sla.update_policy(session, actor(), sla.get_policy(session, public_id), json_body())
    commit()
    return jsonify(policy_dict(policy))


@bp.delete("/sla-policies/<public_id>")
def sla_policies_delete(public_id: str) -> Any:
    session = db_session()
    sla.delete_policy(session, actor(), sla.get_policy(session, public_id))
    commit()
    return "", 204
