"""The managers' dashboard, its CSV download and the per-inbox survey settings."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from sqlalchemy import select

from helpdesk.accounts.models import Agent, Role
from helpdesk.errors import DomainError, Invalid
from helpdesk.i18n import N_, format_units
from helpdesk.i18n.web import current_locale
from helpdesk.reports import export
from helpdesk.reports.commerce import commerce
from helpdesk.reports.deflection import deflection
from helpdesk.reports.figures import low_scores, summaries
from helpdesk.reports.params import ReportQuery, read_query
from helpdesk.reports.ranges import Filters, parse_period, timezone
from helpdesk.reports.sla import GROUPS as SLA_GROUPS
from helpdesk.reports.sla import sla_met
from helpdesk.reports.trend import csat_trend
from helpdesk.tickets import csat
from helpdesk.tickets.models import Inbox, Team
from helpdesk.web import commit, current_actor, database, db_session, require_role

bp = Blueprint("reports", __name__, url_prefix="/reports")
# What the dashboard's table can list, one row each.
TABLES = {"agent": N_("Agents"), "team": N_("Teams"), "inbox": N_("Inboxes"), "channel": N_("Channels")}


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    """2 h 05 m style: managers compare these at a glance."""
    if seconds is None:
        return "—"
    s = round(seconds)
    # CLDR's narrow units in the console's language ("4h 51m", "4 Std. 51 Min.").
    locale = current_locale()
    if s < 60:
        return format_units([(s, "second")], locale)
    minutes, s = divmod(s, 60)
    if minutes < 60:
        return format_units([(minutes, "minute"), (s, "second")] if minutes < 10 else [(minutes, "minute")], locale)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return format_units([(hours, "hour"), (minutes, "minute")], locale)
    days, hours = divmod(hours, 24)
    return format_units([(days, "day"), (hours, "hour")], locale)


@bp.app_template_filter("percent")
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _query() -> tuple[ReportQuery, DomainError | None]:
    session = db_session()
    tz_name = current_app.config["REPORTS_TIMEZONE"]
    try:
        return read_query(session, request.args, tz_name, current_app.config["REPORTS_BUSINESS_HOURS"]), None
    except DomainError as exc:
        # Show the page for the default period with the reason, rather than a bare error.
        period = parse_period({}, timezone(tz_name))
        return ReportQuery(period, Filters(), None), exc


@bp.get("")
@login_required
@require_role(Role.manager)
def dashboard() -> Any:
    session = db_session()
    query, error = _query()
    table = request.args.get("table", "agent")
    if table not in TABLES:
        table = "agent"
    both = summaries(session, query.period, query.filters, ("day", table), query.clock, durations_by_day=False)
    daily, rows = both["day"], both[table]
    data = {
        "days": [g["key"] for g in daily["groups"]],
        "created": [g["conversations_created"] for g in daily["groups"]],
        "resolved": [g["conversations_resolved"] for g in daily["groups"]],
        "csat": [None if g["csat"] is None else round(g["csat"] * 100, 1) for g in daily["groups"]],
        "scores": [daily["totals"]["score_distribution"][str(s)] for s in range(1, 6)],
        **csat_trend(daily["groups"]),
    }
    deflected = deflection(session, query.period)
    data["deflection"] = {"without": [d["handled_without_agent"] for d in deflected["days"]],
                          "needed": [d["needed_agent"] for d in deflected["days"]]}
    last_day: date = query.period.days[-1]
    form = {"from": request.args.get("from") or query.period.days[0].isoformat(),
            "to": request.args.get("to") or last_day.isoformat(),
            "agent": request.args.get("agent", ""), "team": request.args.get("team", ""),
            "inbox": request.args.get("inbox", ""), "channel": request.args.get("channel", ""),
            "hours": "business" if query.clock else ""}
    if error is not None:
        form = {**form, "from": query.period.days[0].isoformat(), "to": last_day.isoformat()}
    html = render_template(
        "reports/dashboard.html", totals=daily["totals"], rows=rows["groups"], data=data, form=form,
        table=table, tables=TABLES,
        error=error, low=low_scores(session, query.period, query.filters),
        commerce=commerce(session, query.period), deflection=deflected,
        sla=sla_met(session, query.period, query.filters), sla_groups=SLA_GROUPS,
        agent_list=session.scalars(select(Agent).order_by(Agent.name)).all(),
        team_list=session.scalars(select(Team).order_by(Team.name)).all(),
        inbox_list=session.scalars(select(Inbox).order_by(Inbox.name)).all(), period=query.period,
        export_args={k: v for k, v in form.items() if v})
    return html, 422 if error is not None else 200


@bp.get("/conversations.csv")
@login_required
@require_role(Role.manager)
def conversations_csv() -> Any:
    query, error = _query()
    if error is not None:
        raise error
    return csv_response(query)


def csv_response(query: ReportQuery) -> Response:
    name = f"conversations-{query.period.days[0]}-{query.period.days[-1]}.csv"
    return Response(export.stream_csv(database(), query.period, query.filters),
                    mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                  "X-Content-Type-Options": "nosniff"})


@bp.route("/surveys", methods=["GET", "POST"])
@login_required
@require_role(Role.admin)
def surveys() -> Any:
    session = db_session()
    inboxes = session.scalars(select(Inbox).order_by(Inbox.name)).all()
    if request.method == "POST":
        inbox = session.scalar(select(Inbox).filter_by(public_id=request.form.get("inbox", "")))
        if inbox is None:
            raise Invalid("inbox", "no such inbox")
        try:
            csat.update_inbox_settings(session, current_actor(), inbox,
                                       enabled=request.form.get("enabled") == "on",
                                       delay_minutes=request.form.get("delay_minutes", "0"),
                                       question=request.form.get("question", ""))
            commit()
            flash(f"Survey settings of {inbox.name} saved.", "success")
        except DomainError as exc:
            flash(exc.message, "error")
        return redirect(url_for("reports.surveys"))
    return render_template("reports/surveys.html", inboxes=[(i, csat.inbox_settings(i)) for i in inboxes])
