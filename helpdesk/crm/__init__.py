"""Customers, identities, the CRM providers and their sync.

One registry per plug-in kind: a new CRM is one module plus one line here."""

from __future__ import annotations

from typing import Any

from helpdesk.crm.hubspot import HubSpotProvider
from helpdesk.crm.provider import CRMProvider
from helpdesk.crm.salesforce import SalesforceProvider

PROVIDERS: dict[str, type[CRMProvider]] = {"hubspot": HubSpotProvider, "salesforce": SalesforceProvider}


def configured_provider(settings: dict[str, Any]) -> CRMProvider | None:
    """The provider chosen by HELPDESK_CRM, or None when no CRM is configured."""
    name = (settings.get("CRM") or "").strip().lower()
    if not name:
        return None
    if name not in PROVIDERS:
        raise ValueError(f"HELPDESK_CRM={name!r}: choose one of {', '.join(sorted(PROVIDERS))}")
    return PROVIDERS[name](settings)  # type: ignore[call-arg]


def init_app(app: Any, runtime: Any) -> None:
    """The CRM admin page, HubSpot's webhooks and the pull/push/refresh jobs."""
    from helpdesk.crm import admin, sync, webhooks
    from helpdesk.extensions import csrf

    app.register_blueprint(admin.bp)
    app.register_blueprint(webhooks.bp)
    csrf.exempt(webhooks.bp)  # signed by HubSpot, no cookies
    sync.init_app(runtime)
    runtime.provide("audit.target.customer", _audit_customers)


def _audit_customers(session: Any, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """Customers named in the audit log; an erased one keeps no name (that is the point)."""
    from flask import url_for
    from sqlalchemy import select

    from helpdesk.crm.models import Customer

    return {c.public_id: (f"customer {c.display_name}", url_for("customers.customer_page", public_id=c.public_id))
            for c in session.scalars(select(Customer).where(Customer.public_id.in_(ids)))}
