"""Agents, roles, login, API tokens and the audit log."""

from __future__ import annotations

from typing import Any


def init_app(app: Any, runtime: Any) -> None:
    from helpdesk.accounts import audit_view, views

    app.register_blueprint(views.bp)
    runtime.provide("audit.target.agent", audit_view.agent_targets)
