"""Service seen from the shop's side: CSAT and contact rate by order value, revenue after chats.

Shown when the period has orders. Cancelled orders do not count. Definitions:
- an order "made contact" when its customer opened a conversation within CONTACT_DAYS after
  placing it; the contact rate of a band is the share of its orders that did;
- the CSAT of a band is the share of 4-5 among the answered surveys of those conversations;
- revenue after chat: orders placed by a customer within AFTER_CHAT_DAYS after a chat
  conversation of the period started, each order counted once.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.orders.models import Order
from helpdesk.reports.ranges import Period
from helpdesk.reports.sql import epoch
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import Channel, Conversation

BANDS = ((0, 25), (25, 50), (50, 100), (100, 250), (250, None))
CONTACT_DAYS = 14
AFTER_CHAT_DAYS = 7
DAY = 86400.0


def band_label(low: float, high: float | None) -> str:
    return f"{low:g}+" if high is None else f"{low:g} to {high:g}"


def commerce(session: Session, period: Period) -> dict[str, Any] | None:
    order_rows = session.execute(
        select(Order.id, Order.customer_id, Order.total, epoch(Order.placed_at))
        .where(Order.placed_at >= period.start, Order.placed_at < period.end, Order.cancelled_at.is_(None))).all()
    if not order_rows:
        return None
    customers = {r[1] for r in order_rows if r[1] is not None}
    horizon = period.end + timedelta(days=max(CONTACT_DAYS, AFTER_CHAT_DAYS))
    conversations: dict[int, list[tuple[float, int | None, bool]]] = defaultdict(list)
    if customers:
        ids = sorted(customers)
        for i in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
            for cid, created, score, channel in session.execute(
                    select(Conversation.customer_id, epoch(Conversation.created_at), CsatSurvey.score,
                           Conversation.channel)
                    .outerjoin(CsatSurvey, CsatSurvey.conversation_id == Conversation.id)
                    .where(Conversation.customer_id.in_(ids[i:i + 900]),
                           Conversation.created_at >= period.start - timedelta(days=AFTER_CHAT_DAYS),
                           Conversation.created_at < horizon)):
                conversations[cid].append((created, score, channel is Channel.chat))
    for items in conversations.values():
        items.sort()

    bands = [{"band": band_label(lo, hi), "low": lo, "high": hi, "orders": 0, "contacted": 0,
              "answers": 0, "good": 0} for lo, hi in BANDS]
    revenue, after_chat_orders = 0.0, 0
    for _order_id, customer_id, total, placed in order_rows:
        value = float(total or 0)
        band = next(b for b in bands if value >= b["low"] and (b["high"] is None or value < b["high"]))
        band["orders"] += 1
        items = conversations.get(customer_id, [])
        times = [c[0] for c in items]
        contacts = items[bisect_left(times, placed):bisect_right(times, placed + CONTACT_DAYS * DAY)]
        if contacts:
            band["contacted"] += 1
            for _when, score, _chat in contacts:
                if score is not None:
                    band["answers"] += 1
                    band["good"] += score >= 4
        # Did a chat of the period start within the week before this order?
        if any(chat and period.start.timestamp() <= when <= placed <= when + AFTER_CHAT_DAYS * DAY
               for when, _score, chat in items):
            revenue += value
            after_chat_orders += 1
    for b in bands:
        b["contact_rate"] = round(b["contacted"] / b["orders"], 4) if b["orders"] else None
        b["csat"] = round(b["good"] / b["answers"], 4) if b["answers"] else None
    return {"bands": bands, "orders": len(order_rows), "revenue_after_chat": round(revenue, 2),
            "orders_after_chat": after_chat_orders, "after_chat_days": AFTER_CHAT_DAYS,
            "contact_days": CONTACT_DAYS}
