"""Outgoing webhooks for integrators: signed deliveries of ticket and CSAT events, retried with
backoff, with a delivery log (above tickets: it only listens to their events)."""

from __future__ import annotations

from typing import Any


def init_app(app: Any, runtime: Any) -> None:
    from helpdesk.webhooks import delivery, views

    app.register_blueprint(views.bp)
    delivery.init_app(runtime)
