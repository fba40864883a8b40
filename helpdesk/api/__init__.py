"""The public REST API (JSON, token auth): one blueprint."""

from __future__ import annotations

from typing import Any


def init_app(app: Any, runtime: Any) -> None:
    from helpdesk.api import automation as _automation  # noqa: F401 - routes join the API blueprint
    from helpdesk.api import calls as _calls  # noqa: F401
    from helpdesk.api import customers as _customers  # noqa: F401
    from helpdesk.api import directory as _directory  # noqa: F401
    from helpdesk.api import orders as _orders  # noqa: F401
    from helpdesk.api import reports as _reports  # noqa: F401
    from helpdesk.api import sla as _sla  # noqa: F401
    from helpdesk.api import views
    from helpdesk.api import webhooks as _webhooks  # noqa: F401
    from helpdesk.extensions import csrf

    app.register_blueprint(views.bp)
    csrf.exempt(views.bp)  # token-authenticated, no cookies
