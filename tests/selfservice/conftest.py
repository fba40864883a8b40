"""Self-service fixtures: the chat room's widget clients and inbox, the orders room's shop settings
and worker, and orders with items, fulfilments and tracking."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.chat.conftest import clients, inbox, site  # noqa: F401
from tests.orders.conftest import app_config, make_order, run_jobs  # noqa: F401

SHIPPED = {"fulfillment_status": "fulfilled", "fulfillments": [
    {"id": 255858046, "status": "success", "tracking_company": "UPS", "tracking_number": "1Z2345E20312345678",
     "tracking_url": None, "created_at": "2026-11-21T09:00:00Z"}]}


def lines(*quantities: int) -> list[dict[str, Any]]:
    titles = ("Linen shirt", "Wool scarf", "Canvas tote")
    return [{"id": 1001 + i, "variant_id": 39072856 + i, "title": titles[i], "quantity": q,
             "price": f"{20 + 10 * i}.00"} for i, q in enumerate(quantities)]


def shipped_order(app: Flask, number: int = 1001, email: str = "ann@example.com", **changes: Any) -> str:
    return make_order(app, number, email, line_items=lines(2, 1), financial_status="paid",
                      total_price="70.00", **{**SHIPPED, **changes})


def open_order(app: Flask, number: int = 1002, email: str = "ann@example.com", **changes: Any) -> str:
    return make_order(app, number, email, line_items=lines(1, 1), financial_status="paid", total_price="50.00",
                      fulfillment_status=None, fulfillments=[], **changes)
