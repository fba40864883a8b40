"""Orders from the shops: platform connectors, webhooks, sync, and links to conversations."""

from __future__ import annotations

from typing import Any

from helpdesk.orders.bigcommerce import BigCommerceConnector
from helpdesk.orders.connector import Connector
from helpdesk.orders.magento import MagentoConnector
from helpdesk.orders.shopify import ShopifyConnector
from helpdesk.orders.woocommerce import WooCommerceConnector

# One line per platform: a new platform is one module plus one entry here.
CONNECTORS: dict[str, type[Connector]] = {
    "shopify": ShopifyConnector,
    "woocommerce": WooCommerceConnector,
    "bigcommerce": BigCommerceConnector,
    "magento": MagentoConnector,
}


def init_app(app: Any, runtime: Any) -> None:
    """Blueprints, the conversation sidebar's orders panel, order recognition and the order jobs."""
    from helpdesk.orders import views

    views.init_app(app, runtime)
