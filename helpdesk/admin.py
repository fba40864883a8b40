"""Admin page of the job queue: what is waiting, what died and why, and a retry button."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import func, select

from helpdesk import jobs
from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit
from helpdesk.web import commit, current_actor, db_session, local_url, require_role

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/jobs")
@login_required
@require_role(Role.admin)
def job_list() -> Any:
    session = db_session()
    counts = dict(session.execute(select(jobs.Job.state, func.count()).group_by(jobs.Job.state)).all())
    dead = session.scalars(select(jobs.Job).filter_by(state=jobs.JobState.dead)
                           .order_by(jobs.Job.finished_at.desc()).limit(100)).all()
    waiting = session.scalars(select(jobs.Job).where(jobs.Job.state.in_([jobs.JobState.queued,
                                                                         jobs.JobState.running]))
                              .order_by(jobs.Job.run_at).limit(100)).all()
    return render_template("admin/jobs.html", counts={jobs.JobState(k).value: v for k, v in counts.items()},
                           dead=dead, waiting=waiting)


@bp.post("/jobs/<int:job_id>/retry")
@login_required
@require_role(Role.admin)
def job_retry(job_id: int) -> Any:
    session = db_session()
    job = jobs.retry_dead(session, job_id)
    audit(session, current_actor(), "job.retry", "job", str(job.id), kind=job.kind)
    commit()
    flash(f"Job {job.id} ({job.kind}) queued again.", "success")
    return redirect(local_url(request.form.get("next"), url_for("admin.job_list"))), 303


def init_app(app: Any, runtime: Any) -> None:
    app.register_blueprint(bp)
