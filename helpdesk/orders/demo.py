"""Sample orders for `helpdesk demo`, matching the demo customers and the orders their messages name."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from helpdesk.actors import SYSTEM
from helpdesk.db import utcnow
from helpdesk.orders import services
from helpdesk.orders.connector import CustomerData, FulfillmentData, LineItemData, OrderData, RefundData

SHOP = "demo-shop.myshopify.com"

# (number, email, name, days ago, items as (title, variant, qty, price), payment, delivery, refund)
ORDERS = [
    ("1001", "ann@example.com", "Ann Lee", 6,
     [("Linen shirt", "Sand / M", 1, "59.00"), ("Canvas tote", None, 1, "19.00")],
     ("stripe", "paid"), ("UPS", "1Z999AA10123456784"), None),
    ("1002", "bruno@example.net", "Bruno Costa", 12, [("Blue sneakers", "EU 42", 1, "89.00")],
     ("paypal", "partially_refunded"), ("DHL Express", "JD014600003828"), ("15.00", "Return shipping refunded")),
    ("1003", "chloe@example.org", "Chloé Martin", 2, [("Wool scarf", "Rust", 2, "35.00")],
     ("stripe", "paid"), None, None),
    ("1004", "dev@example.com", "Dev Patel", 20, [("Desk lamp", "Black", 1, "129.00"), ("LED bulb", None, 2, "9.50")],
     ("shopify_payments", "paid"), ("USPS", "9400111899223197428490"), None),
    ("0998", "ann@example.com", "Ann Lee", 64, [("Gift card", "50 USD", 1, "50.00")],
     ("stripe", "paid"), None, None),
]


def seed_orders(session: Session) -> None:
    now = utcnow()
    for number, email, name, days, lines, (gateway, financial), parcel, refund in ORDERS:
        placed = now - timedelta(days=days)
        items = [LineItemData(title=t, variant=v, quantity=q, price=Decimal(p)) for t, v, q, p in lines]
        total = sum((i.price * i.quantity for i in items), Decimal("0"))
        services.upsert_order(session, SYSTEM, OrderData(
            platform="shopify", shop=SHOP, order_id=f"5{number}00", number=number, name=f"#{number}",
            placed_at=placed, updated_at=placed + timedelta(days=1), total=total, currency="USD", email=email,
            customer=CustomerData(external_id=f"7{number}", email=email, name=name), gateway=gateway,
            financial_status=financial, fulfillment_status="fulfilled" if parcel else "unfulfilled",
            subtotal=total, shipping_total=Decimal("0"), tax_total=Decimal("0"), line_items=items,
            fulfillments=[FulfillmentData(external_id=f"f{number}", status="success", carrier=parcel[0],
                                          tracking_number=parcel[1], shipped_at=placed + timedelta(days=1))]
            if parcel else [],
            refunds=[RefundData(external_id=f"r{number}", amount=Decimal(refund[0]), note=refund[1],
                                refunded_at=placed + timedelta(days=5))] if refund else [],
        ))
