"""The admin page of the shop connections."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.jobs import Job
from helpdesk.orders import sync
from tests.conftest import csrf_token, login, make_agent
from tests.orders.conftest import SHOPIFY_SECRET


def test_admin_sees_connections_and_webhook_urls_but_never_secrets(app: Flask, admin_client: FlaskClient) -> None:
    app.config.update(SHOPIFY_ACCESS_TOKEN="shpat_very_secret")
    html = admin_client.get("/admin/orders").get_data(as_text=True)
    assert "shop-example.myshopify.com" in html and "http://localhost/webhooks/shopify" in html
    assert "HELPDESK_MAGENTO_URL" in html and "not set up" in html
    assert "shpat_very_secret" not in html and SHOPIFY_SECRET not in html


def test_agents_may_not_open_the_shops_page(app: Flask, client: FlaskClient) -> None:
    make_agent(app, "agent2@example.com", "agent")
    login(client, "agent2@example.com")
    assert client.get("/admin/orders").status_code == 403


def test_admin_starts_a_backfill_as_a_job(app: Flask, admin_client: FlaskClient, session: Session) -> None:
    app.config.update(SHOPIFY_ACCESS_TOKEN="shpat_1", SHOPIFY_API_URL="http://127.0.0.1:9/admin/api/2025-01")
    token = csrf_token(admin_client, "/admin/orders")
    assert admin_client.post("/admin/orders/shopify/backfill", data={"csrf_token": token}).status_code == 303
    assert session.scalar(select(Job.kind)) == sync.BACKFILL
    session.commit()
    page = admin_client.post("/admin/orders/magento/backfill", data={"csrf_token": token}, follow_redirects=True)
    assert "magento is not configured" in page.get_data(as_text=True)
