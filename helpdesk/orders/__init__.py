"""Orders from the shops: platform connectors, webhooks, sync, and links to conversations."""

from __future__ import annotations

from typing import Any

from helpdesk.orders import bigcommerce, magento, shopify, woocommerce
from helpdesk.orders.platform import Platform

# One line per platform: a new platform is one module (with its PLATFORM descriptor) plus one
# entry here; the webhook route, the admin page, the CLI, the OpenAPI enums and the sync read it.
CONNECTORS: dict[str, Platform] = {p.key: p for p in (
    shopify.PLATFORM,
    woocommerce.PLATFORM,
    bigcommerce.PLATFORM,
    magento.PLATFORM,
)}


def init_app(app: Any, runtime: Any) -> None:
    """Blueprints, the conversation sidebar's orders panel, order recognition and the order jobs."""
    from helpdesk.orders import views

    views.init_app(app, runtime)
