"""The JSON shape of an order's PAYMENT for agents (`GET /api/v1/orders/{id}` → `payment`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from helpdesk.orders.models import Order
from helpdesk.orders.serialize import amount
from helpdesk.payments import sync
from helpdesk.tickets.serialize import iso


def payment_dict(session: Session, order: Order, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """From stored rows only (None: no provider of ours holds it and nothing is stored)."""
    entry = sync.payments_of(session, [order], settings).get(order.id)
    if entry is None:
        return None
    p = entry["payment"]
    return {
        "provider": p.provider if p else entry["provider"],
        "state": p.state if p else "pending",
        "reference": p.reference if p else None, "status": p.status if p else None,
        "amount": amount(p.amount) if p else None, "captured": amount(p.captured) if p else None,
        "refunded": amount(p.refunded) if p else None, "currency": p.currency if p else None,
        "method": p.method if p else None, "error": p.error if p else None,
        "fetched_at": iso(p.fetched_at) if p else None,
        "refunds": list(p.refunds) if p else [],
        "disputes": [{"id": d.dispute_id, "provider": d.provider, "status": d.status, "amount": amount(d.amount),
                      "currency": d.currency, "reason": d.reason, "evidence_due_by": iso(d.evidence_due_by)}
                     for d in entry["disputes"]],
    }
