"""Admin page of the shop connections: which platforms are set up, their webhook URLs, backfills,
and the webhook deliveries that were parked."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit
from helpdesk.errors import DomainError
from helpdesk.orders import CONNECTORS, sync
from helpdesk.orders import shops as shop_store
from helpdesk.orders.models import DeliveryState, SyncState, WebhookDelivery
from helpdesk.web import commit, current_actor, db_session, require_role

bp = Blueprint("orders_admin", __name__, url_prefix="/admin")

SECRET_WORDS = ("TOKEN", "SECRET", "KEY")


@bp.get("/orders")
@login_required
@require_role(Role.admin)
def shops() -> Any:
    session = db_session()
    config = current_app.config
    states = {(s.platform, s.shop): s for s in session.scalars(select(SyncState))}
    platforms = []
    for name, desc in CONNECTORS.items():
        connected = shop_store.shops_of(session, config, name)
        connector = sync.configured(name, config)
        platforms.append({
            "name": name, "label": desc.label, "desc": desc, "connector": connector,
            "state": states.get((name, connector.shop)) if connector else None,
            # Secrets are shown as set or not, never their values.
            "settings": [(f"HELPDESK_{key}", ("set" if config.get(key) else "not set")
                          if any(w in key for w in SECRET_WORDS) else (config.get(key) or "not set"))
                         for key in desc.settings_names()],
            "shops": [{"view": v, "state": states.get((name, v.key)),
                       "values": [(f, ("set" if v.credentials.get(f.name) else "not set") if f.secret
                                   else (v.credentials.get(f.name) or "")) for f in desc.fields]}
                      for v in connected if not v.from_settings],
            "webhook": config["BASE_URL"].rstrip("/") + url_for("orders_webhooks.receive", platform=name)
            if desc.webhook else None,
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
        state = sync.start_backfill(session, current_app.config, platform,
                                    shop=request.form.get("shop") or None)
        audit(session, current_actor(), "orders.backfill", "shop", f"{platform}:{state.shop}")
        commit()
        flash(f"Backfill of {platform} orders started; the worker imports them page by page.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("orders_admin.shops"), code=303)


@bp.post("/orders/<platform>/shops")
@login_required
@require_role(Role.admin)
def save_shop(platform: str) -> Any:
    """Add a shop, or edit one (`shop_id`); an empty secret field keeps the stored secret."""
    session = db_session()
    shop_id = request.form.get("shop_id", "")
    try:
        row = shop_store.save_shop(session, current_actor(), platform, request.form,
                              int(shop_id) if shop_id.isdigit() else None)
        commit()
        flash(f"Shop {row.key} saved.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("orders_admin.shops"), code=303)


@bp.post("/orders/shops/<int:shop_id>/delete")
@login_required
@require_role(Role.admin)
def delete_shop(shop_id: int) -> Any:
    session = db_session()
    try:
        shop_store.delete_shop(session, current_actor(), shop_id)
        commit()
        flash("Shop removed; its orders stay.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("orders_admin.shops"), code=303)
