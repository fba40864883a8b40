"""How an order is tied to its payment, by what each shop platform gives: WooCommerce's
`transaction_id`, BigCommerce's `payment_provider_id`, Magento's `payment.last_trans_id`, and
Shopify's transactions (`authorization` / `receipt`), asked of the shop by the fetch job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from helpdesk import db_of
from helpdesk.actors import SYSTEM
from helpdesk.orders import services
from helpdesk.orders.bigcommerce import BigCommerceConnector
from helpdesk.orders.magento import MagentoConnector
from helpdesk.orders.shopify import ShopifyConnector
from helpdesk.orders.woocommerce import WooCommerceConnector
from tests.orders.fakes import FakeShopify, bigcommerce_order, magento_order, serving, shopify_order, woo_order
from tests.payments.fakes import FakeStripe, stripe_charge
from tests.payments.test_fetch_stripe import payment_of

SHOP, TOKEN = "shop-example.myshopify.com", "shpat_payments"


@dataclass
class ShopifyWithTransactions(FakeShopify):
    transactions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("GET", r"/admin/api/2025-01/orders/(\d+)/transactions\.json",
                 lambda _r, m: (200, {}, {"transactions": self.transactions.get(m[1], [])})), *super().routes()]


def test_each_platform_names_the_payment_where_its_api_does() -> None:
    assert WooCommerceConnector("https://w.example", "k", "s").parse_order(
        woo_order(transaction_id="ch_woo")).payment_reference == "ch_woo"
    assert BigCommerceConnector("abc", "t").parse_order(
        {**bigcommerce_order(), "payment_provider_id": "pi_bc"}).payment_reference == "pi_bc"
    mg = magento_order(1)
    mg["payment"] = {**(mg.get("payment") or {}), "method": "stripe_payments", "last_trans_id": "ch_mg"}
    assert MagentoConnector("https://m.example", "t").parse_order(mg).payment_reference == "ch_mg"
    assert ShopifyConnector(SHOP, "").parse_order(shopify_order()).payment_reference is None


def test_a_shopify_orders_charge_is_read_from_its_transactions(app: Flask, fake_stripe: FakeStripe,
                                                                run_jobs: Any) -> None:
    fake_stripe.add_charge(stripe_charge("ch_shopify"))
    order = shopify_order(order_id=450789999, number=1501, gateway="stripe", payment_gateway_names=["stripe"])
    shop = ShopifyWithTransactions(credentials={"X-Shopify-Access-Token": TOKEN}, orders=[order])
    shop.transactions["450789999"] = [
        {"id": 1, "kind": "authorization", "status": "failure", "authorization": "ch_declined", "receipt": {}},
        {"id": 2, "kind": "sale", "status": "success", "gateway": "stripe", "authorization": "ch_shopify",
         "receipt": {"id": "ch_shopify", "object": "charge"}}]
    with serving(shop):
        app.config.update(SHOPIFY_SHOP=SHOP, SHOPIFY_ACCESS_TOKEN=TOKEN,
                          SHOPIFY_API_URL=f"{shop.url}/admin/api/2025-01")
        with db_of(app).unit_of_work() as s:
            stored, _ = services.upsert_order(s, SYSTEM, ShopifyConnector(SHOP, "").parse_order(order))
            order_id = stored.id
        assert run_jobs() == 1
    payment, _ = payment_of(app, order_id)
    assert payment is not None and (payment.state, payment.reference) == ("found", "ch_shopify")
    assert fake_stripe.requests[0].path == "/v1/charges/ch_shopify"
