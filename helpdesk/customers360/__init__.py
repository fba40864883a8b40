"""The whole customer: the crm/ record joined with what higher rooms know of them (conversations,
later orders). It sits above crm/ and tickets/ so that neither has to import the other."""

from __future__ import annotations

from typing import Any


def init_app(app: Any, runtime: Any) -> None:
    """The customer pages, the conversation page's customer card, and ticket events -> CRM pushes."""
    from helpdesk.customers360 import listeners, views

    app.register_blueprint(views.bp)
    runtime.panels.add("conversation.sidebar", "customer", views.sidebar_data, "crm/_sidebar.html")
    listeners.register(runtime)
