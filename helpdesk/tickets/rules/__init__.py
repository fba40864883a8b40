"""Automation rules and macros: conditions and actions over conversations, run in the worker."""

from __future__ import annotations

from typing import Any


def init_app(app: Any, runtime: Any) -> None:
    from helpdesk.tickets.rules import engine, views

    app.register_blueprint(views.bp)
    engine.init_app(runtime)
