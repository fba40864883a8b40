"""Admin page of the shop connections: which platforms are set up, their webhook URLs, backfills,
and the webhook deliveries that were parked."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import login_required
from sqlalchemy import select

from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit
from helpdesk.errors import DomainError
from helpdesk.orders import CONNECTORS, sync
from helpdesk.orders.models import DeliveryState, SyncState, WebhookDelivery
from helpdesk.web import commit, current_actor, db_session, require_role

bp = Blueprint("orders_admin", __name__, url_prefix="/admin")

SETTINGS = {
    "shopify": ["SHOPIFY_SHOP", "SHOPIFY_ACCESS_TOKEN", "SHOPIFY_API_URL", "SHOPIFY_WEBHOOK_SECRET"],
    "woocommerce": ["WOOCOMMERCE_URL", "WOOCOMMERCE_CONSUMER_KEY", "WOOCOMMERCE_CONSUMER_SECRET",
                    "WOOCOMMERCE_WEBHOOK_SECRET"],
    "bigcommerce": ["BIGCOMMERCE_STORE_HASH", "BIGCOMMERCE_ACCESS_TOKEN", "BIGCOMMERCE_API_URL",
                    "BIGCOMMERCE_WEBHOOK_SECRET"],
    "magento": ["MAGENTO_URL", "MAGENTO_ACCESS_TOKEN", "MAGENTO_PULL_SECONDS"],
}
WEBHOOKS = {"shopify": "/webhooks/shopify", "woocommerce": "/webhooks/woocommerce",
            "bigcommerce": "/webhooks/bigcommerce"}
SECRET_WORDS = ("TOKEN", "SECRET", "KEY")


@bp.get("/orders")
@login_required
@require_role(Role.admin)
def shops() -> Any:
    session = db_session()
    config = current_app.config
    states = {(s.platform, s.shop): s for s in session.scalars(select(SyncState))}
    platforms = []
    for name in CONNECTORS:
        connector = sync.configured(name, config)
        platforms.append({
            "name": name, "connector": connector,
            "state": states.get((name, connector.shop)) if connector else None,
            # Secrets are shown as set or not, never their values.
            "settings": [(f"HELPDESK_{key}", ("set" if config.get(key) else "not set")
                          if any(w in key for w in SECRET_WORDS) else (config.get(key) or "not set"))
                         for key in SETTINGS[name]],
            "webhook": config["BASE_URL"].rstrip("/") + WEBHOOKS[name] if name in WEBHOOKS else None,
        })
    parked = session.scalars(select(WebhookDelivery).filter_by(state=DeliveryState.parked)
                             .order_by(WebhookDelivery.received_at.desc()).limit(50)).all()
    return render_template("orders/admin.html", platforms=platforms, parked=parked)


@bp.post("/orders/<platform>/backfill")
@login_required
@require_role(Role.admin)
def backfill(platform: str) -> Any:
    session = db_session()
    try:
        state = sync.start_backfill(session, current_app.config, platform)
        audit(session, current_actor(), "orders.backfill", "shop", f"{platform}:{state.shop}")
        commit()
        flash(f"Backfill of {platform} orders started; the worker imports them page by page.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("orders_admin.shops"), code=303)
