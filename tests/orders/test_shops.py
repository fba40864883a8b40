"""Platforms as plug-ins: several shops per platform, their credentials in the database (secrets
write-only on the admin page), one webhook route that finds the shop a delivery names."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.orders import CONNECTORS, sync
from helpdesk.orders.models import Order, Shop
from tests.conftest import csrf_token
from tests.orders.conftest import hmac_b64
from tests.orders.fakes import shopify_order

SECOND = "second-shop.myshopify.com"


def add_second_shop(admin_client: FlaskClient) -> None:
    token = csrf_token(admin_client, "/admin/orders")
    response = admin_client.post("/admin/orders/shopify/shops", data={
        "csrf_token": token, "shop": SECOND, "access_token": "shpat_second_secret",
        "webhook_secret": "second webhook secret"})
    assert response.status_code == 303


def test_admin_adds_a_second_shop_whose_secrets_are_never_shown(admin_client: FlaskClient, session: Session) -> None:
    add_second_shop(admin_client)
    row = session.scalar(select(Shop).filter_by(platform="shopify"))
    assert row is not None and row.key == SECOND and row.credentials["access_token"] == "shpat_second_secret"
    session.commit()
    html = admin_client.get("/admin/orders").get_data(as_text=True)
    assert SECOND in html and "shpat_second_secret" not in html and "second webhook secret" not in html
    # Saving with the secret fields empty keeps the secrets.
    token = csrf_token(admin_client, "/admin/orders")
    admin_client.post("/admin/orders/shopify/shops", data={"csrf_token": token, "shop_id": str(row.id),
                                                           "shop": SECOND, "access_token": "", "webhook_secret": ""})
    session.expire_all()
    assert session.get(Shop, row.id).credentials["access_token"] == "shpat_second_secret"


def test_a_shop_without_its_token_is_refused(admin_client: FlaskClient, session: Session) -> None:
    token = csrf_token(admin_client, "/admin/orders")
    page = admin_client.post("/admin/orders/shopify/shops", data={"csrf_token": token, "shop": SECOND},
                             follow_redirects=True).get_data(as_text=True)
    assert "Admin API access token required" in page
    assert session.scalar(select(Shop)) is None


def test_webhook_of_the_second_shop_is_verified_with_its_own_secret(admin_client: FlaskClient, client: FlaskClient,
                                                                   session: Session) -> None:
    add_second_shop(admin_client)
    body = json.dumps(shopify_order(order_id=9001, number=2001)).encode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": SECOND,
               "X-Shopify-Webhook-Id": "w-2", "Content-Type": "application/json"}
    wrong = client.post("/webhooks/shopify", data=body, headers={
        **headers, "X-Shopify-Hmac-Sha256": hmac_b64("shpss_test_secret", body)})  # the default shop's secret
    assert wrong.status_code == 401
    ok = client.post("/webhooks/shopify", data=body, headers={
        **headers, "X-Shopify-Hmac-Sha256": hmac_b64("second webhook secret", body)})
    assert ok.status_code == 200, ok.get_json()
    order = session.scalar(select(Order).filter_by(order_id="9001"))
    assert order is not None and order.shop == SECOND


def test_sync_finds_the_connector_of_a_named_shop(app: Flask, admin_client: FlaskClient, session: Session) -> None:
    add_second_shop(admin_client)
    conn = sync.connector("shopify", app.config, SECOND, session)
    assert conn.shop == SECOND and conn.http.headers["X-Shopify-Access-Token"] == "shpat_second_secret"


def test_unknown_platform_webhook_is_404_and_registry_feeds_openapi(client: FlaskClient) -> None:
    assert client.post("/webhooks/nosuchshop", data=b"{}").status_code == 404
    assert client.post("/webhooks/magento", data=b"{}").status_code == 404  # Magento is pulled
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["schemas"]["Order"]["properties"]["platform"]["enum"] == list(CONNECTORS)


def test_each_magento_shop_gets_its_own_chain_of_pulls(app: Flask, admin_client: FlaskClient, run_jobs: Any) -> None:
    from helpdesk import db_of
    from helpdesk.jobs import Job, JobState
    from helpdesk.runtime import runtime_of
    from tests.orders.fakes import FakeMagento, magento_order, serving

    first = FakeMagento(credentials={"Authorization": "Bearer one"}, orders=[magento_order(1)])
    second = FakeMagento(credentials={"Authorization": "Bearer two"}, orders=[magento_order(2, email="z@example.com")])
    with serving(first), serving(second):
        app.config.update(MAGENTO_URL=first.url, MAGENTO_ACCESS_TOKEN="one")
        token = csrf_token(admin_client, "/admin/orders")
        admin_client.post("/admin/orders/magento/shops", data={"csrf_token": token, "url": second.url,
                                                               "access_token": "two"})
        for _ in range(2):
            sync.start_pulls_job(runtime_of(app).context(), {})
        with db_of(app).unit_of_work() as s:
            pending = [j.payload for j in s.scalars(select(Job).filter_by(kind=sync.MAGENTO_PULL,
                                                                          state=JobState.queued))]
        assert sorted(p.get("shop") or "" for p in pending) == ["", second.url.split("//")[1]]
        run_jobs()
        with db_of(app).unit_of_work() as s:
            shops = sorted(s.scalars(select(Order.shop).filter_by(platform="magento")))
        assert shops == sorted([first.url.split("//")[1], second.url.split("//")[1]])


def test_woocommerce_webhook_of_a_second_shop_uses_that_shops_secret(admin_client: FlaskClient, client: FlaskClient,
                                                                   session: Session) -> None:
    from tests.orders.fakes import woo_order

    token = csrf_token(admin_client, "/admin/orders")
    admin_client.post("/admin/orders/woocommerce/shops", data={
        "csrf_token": token, "url": "https://second-woo.example", "consumer_key": "ck_2", "webhook_secret": "woo two"})
    body = json.dumps(woo_order(order_id=888)).encode()
    headers = {"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Source": "https://second-woo.example/",
               "X-WC-Webhook-Delivery-ID": "d-2", "Content-Type": "application/json"}
    assert client.post("/webhooks/woocommerce", data=body, headers={
        **headers, "X-WC-Webhook-Signature": hmac_b64("woo webhook secret", body)}).status_code == 401
    ok = client.post("/webhooks/woocommerce", data=body, headers={
        **headers, "X-WC-Webhook-Signature": hmac_b64("woo two", body)})
    assert ok.status_code == 200, ok.get_json()
    assert session.scalar(select(Order.shop).filter_by(order_id="888")) == "second-woo.example"


def test_admin_removes_a_shop_and_its_orders_stay(admin_client: FlaskClient, session: Session) -> None:
    add_second_shop(admin_client)
    row = session.scalar(select(Shop))
    session.commit()
    token = csrf_token(admin_client, "/admin/orders")
    assert admin_client.post(f"/admin/orders/shops/{row.id}/delete", data={"csrf_token": token}).status_code == 303
    session.expire_all()
    assert session.scalar(select(Shop)) is None


def test_cli_platform_choices_come_from_the_registry() -> None:
    from click.testing import CliRunner

    from helpdesk.cli import cli

    out = CliRunner().invoke(cli, ["orders", "backfill", "--help"]).output
    assert all(name in out for name in CONNECTORS) and "--shop" in out
