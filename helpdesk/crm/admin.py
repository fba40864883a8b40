"""Admin page of the CRM sync: each provider's last pull, counts, failures with reasons, retry."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from helpdesk import jobs
from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit
from helpdesk.crm import PROVIDERS, sync
from helpdesk.crm.models import CrmContact, CrmConversationLink, CrmSyncState
from helpdesk.web import commit, current_actor, db_session, require_role

bp = Blueprint("crm_admin", __name__, url_prefix="/admin")

CRM_JOBS = (sync.PULL, sync.PUSH, sync.REFRESH)


@bp.get("/crm")
@login_required
@require_role(Role.admin)
def state() -> Any:
    session = db_session()
    from sqlalchemy import func

    states = {s.provider: s for s in session.scalars(select(CrmSyncState))}
    links = dict(
        session.execute(select(CrmContact.provider, func.count()).group_by(CrmContact.provider)).all()
    )
    tickets = dict(
        session.execute(
            select(CrmConversationLink.provider, func.count()).group_by(CrmConversationLink.provider)
        ).all()
    )
    failed = session.scalars(
        select(jobs.Job)
        .where(jobs.Job.kind.in_(CRM_JOBS), jobs.Job.state == jobs.JobState.dead)
        .order_by(jobs.Job.finished_at.desc())
        .limit(50)
    ).all()
    retrying = session.scalars(
        select(jobs.Job)
        .where(
            jobs.Job.kind.in_(CRM_JOBS),
            jobs.Job.state == jobs.JobState.queued,
            jobs.Job.last_error.is_not(None),
        )
        .order_by(jobs.Job.run_at)
        .limit(50)
    ).all()
    pending = session.scalar(
        select(func.count())
        .select_from(jobs.Job)
        .where(jobs.Job.kind.in_(CRM_JOBS), jobs.Job.state.in_([jobs.JobState.queued, jobs.JobState.running]))
    )
    config = current_app.config
    configured = {
        "hubspot": bool(config.get("HUBSPOT_ACCESS_TOKEN")),
        "salesforce": bool(config.get("SALESFORCE_INSTANCE_URL")),
    }
    return render_template(
        "admin/crm.html",
        providers=PROVIDERS,
        active=sync.provider_name(config),
        states=states,
        links=links,
        tickets=tickets,
        failed=failed,
        retrying=retrying,
        pending=pending,
        configured=configured,
        webhook_secret=bool(config.get("HUBSPOT_CLIENT_SECRET")),
    )


@bp.post("/crm/pull")
@login_required
@require_role(Role.admin)
def pull() -> Any:
    session = db_session()
    full = request.form.get("full") == "1"
    job = sync.request_pull(session, current_app.config, full=full)
    if job is None:
        flash("No CRM is configured: set HELPDESK_CRM to hubspot or salesforce.", "error")
        return redirect(url_for("crm_admin.state")), 303
    if full:
        state = sync.sync_state(session, sync.provider_name(current_app.config) or "")
        state.cursor = None  # a full pass starts from the beginning
    audit(session, current_actor(), "crm.pull", "crm", sync.provider_name(current_app.config) or "", full=full)
    commit()
    flash("A full resync was queued." if full else "A pull was queued.", "success")
    return redirect(url_for("crm_admin.state")), 303
