"""Read-only figures: CSAT, response and resolution times, volumes, exports."""

from __future__ import annotations

from typing import Any


def init_app(app: Any, runtime: Any) -> None:
    from helpdesk.reports import rollups, views

    app.register_blueprint(views.bp)
    runtime.jobs.periodic(rollups.REFRESH_JOB, rollups.REFRESH_EVERY_SECONDS, rollups.refresh_job)
