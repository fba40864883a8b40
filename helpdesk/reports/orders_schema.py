"""The orders tables, if the orders room is installed: read by reflection, never by import.

Reports sit above every room but must work without the orders issue's code and tables; when the
tables exist, their columns are found by name among the spellings a shop platform uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, MetaData, Table, inspect
from sqlalchemy.orm import Session

TOTAL_COLUMNS = ("total", "total_price", "total_amount", "grand_total", "amount")
PLACED_COLUMNS = ("placed_at", "ordered_at", "processed_at", "created_at")
NUMBER_COLUMNS = ("number", "name", "order_number", "external_id")


@dataclass(frozen=True)
class OrdersSchema:
    orders: Table
    links: Table | None
    total: Column  # type: ignore[type-arg]
    placed_at: Column  # type: ignore[type-arg]
    number: Column | None  # type: ignore[type-arg]
    customer_id: Column | None  # type: ignore[type-arg]


def _pick(table: Table, names: tuple[str, ...]) -> Column | None:  # type: ignore[type-arg]
    return next((table.c[name] for name in names if name in table.c), None)


def detect(session: Session) -> OrdersSchema | None:
    """The orders tables as this database has them, or None when there are none to use."""
    bind = session.connection()
    names = set(inspect(bind).get_table_names())
    if "orders" not in names:
        return None
    meta = MetaData()
    orders = Table("orders", meta, autoload_with=bind)
    links = Table("order_links", meta, autoload_with=bind) if "order_links" in names else None
    if links is not None and not {"conversation_id", "order_id"} <= set(links.c.keys()):
        links = None
    total, placed = _pick(orders, TOTAL_COLUMNS), _pick(orders, PLACED_COLUMNS)
    if total is None or placed is None:
        return None
    return OrdersSchema(orders, links, total, placed, _pick(orders, NUMBER_COLUMNS),
                        orders.c.get("customer_id"))
