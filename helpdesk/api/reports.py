"""REST: /api/v1/reports/summary and /api/v1/reports/conversations.csv, on the API blueprint."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, current_app, g, jsonify, request

from helpdesk.accounts.models import Role
from helpdesk.api.views import bp
from helpdesk.errors import Forbidden
from helpdesk.reports import export
from helpdesk.reports.deflection import deflection
from helpdesk.reports.figures import summary
from helpdesk.reports.params import ReportQuery, read_query
from helpdesk.reports.sla import sla_met
from helpdesk.web import database, db_session


def _manager_query() -> ReportQuery:
    if not g.api_agent.has_role(Role.manager):
        raise Forbidden("reports need the manager role", code="forbidden")
    config = current_app.config
    return read_query(db_session(), request.args, config["REPORTS_TIMEZONE"],
                      config["REPORTS_BUSINESS_HOURS"])


@bp.get("/reports/summary")
def reports_summary() -> Any:
    query = _manager_query()
    return jsonify(summary(db_session(), query.period, query.filters, query.group_by, query.clock))


@bp.get("/reports/conversations.csv")
def reports_conversations_csv() -> Any:
    query = _manager_query()
    name = f"conversations-{query.period.days[0]}-{query.period.days[-1]}.csv"
    return Response(export.stream_csv(database(), query.period, query.filters),
                    mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/reports/sla")
def reports_sla() -> Any:
    query = _manager_query()
    return jsonify(sla_met(db_session(), query.period, query.filters))


@bp.get("/reports/deflection")
def reports_deflection() -> Any:
    query = _manager_query()
    return jsonify(deflection(db_session(), query.period))


@bp.get("/reports/deflection.csv")
def reports_deflection_csv() -> Any:
    """One row per day: what the widget settled without an agent and what needed one."""
    query = _manager_query()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", "handled_without_agent", "needed_agent"])
    for day in deflection(db_session(), query.period)["days"]:
        writer.writerow([day["day"], day["handled_without_agent"], day["needed_agent"]])
    name = f"deflection-{query.period.days[0]}-{query.period.days[-1]}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-Type-Options": "nosniff"})
