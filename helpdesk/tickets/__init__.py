"""Conversations, messages, inboxes, teams, assignment, SLA, snoozes and CSAT surveys."""

from __future__ import annotations

from typing import Any


def init_app(app: Any, runtime: Any) -> None:
    """The console, the tickets admin pages, surveys and the snooze wake-ups. The email channel
    (tickets/email) is a room of its own above this one, wired right after it."""
    from helpdesk.tickets import (
        admin,
        assignment,
        audit_targets,
        calls_views,
        csat,
        csat_views,
        links,
        rules,
        sla,
        snooze,
        views,
    )

    app.add_template_filter(links.linkify, "linkify")  # message text: safe links, the rest escaped
    app.jinja_env.globals["own_signature"] = views.own_signature  # the profile page's signature card
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(calls_views.bp)
    app.register_blueprint(csat_views.bp)
    csat.init_app(app, runtime)
    snooze.init_app(runtime)
    audit_targets.init_app(runtime)
    assignment.init_app(runtime)
    rules.init_app(app, runtime)
    sla.init_app(app, runtime)
