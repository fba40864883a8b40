"""Disputes from Stripe's webhooks: one conversation per dispute, tagged `dispute`, for the
order's customer, with the order linked and a note per event (amount, reason, deadline).

The webhook route verifies and notes the event once, then a job does the rest in phases: find
the order and its customer (read), ask Stripe for the charge's billing email when we do not know
the customer (network, no transaction), then write. Each step is idempotent: the dispute is
keyed by its id, the note by the event id."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.accounts.services import normalise_email
from helpdesk.actors import SYSTEM
from helpdesk.crm import services as crm
from helpdesk.crm.models import Customer
from helpdesk.errors import Invalid
from helpdesk.orders import linking
from helpdesk.orders.models import Order
from helpdesk.payments import stripe_api, sync
from helpdesk.payments.models import Dispute, Payment
from helpdesk.payments.provider import DisputeData, NotFound, ProviderError, RateLimited
from helpdesk.runtime import JobContext
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Channel, Conversation, Inbox

DISPUTE_EVENT = "payments.stripe_dispute"
EVENTS = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
          "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated")
TAG = "dispute"


def order_of_charge(session: Session, charge_id: str | None, intent_id: str | None) -> Order | None:
    """The order paid by this charge: a fetched payment's, else the id the shop gave."""
    refs = [r for r in (charge_id, intent_id) if r]
    if not refs:
        return None
    payment = session.scalar(select(Payment).where(Payment.provider == stripe_api.PROVIDER,
                                                   Payment.reference.in_(refs)))
    if payment is not None:
        return payment.order
    return session.scalar(select(Order).where(Order.payment_reference.in_(refs)).order_by(Order.id))


def dispute_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    event = payload["event"]
    obj = event["data"]["object"]
    data = stripe_api.parse_dispute(obj)
    intent = obj.get("payment_intent") if isinstance(obj.get("payment_intent"), str) else None
    with ctx.db.unit_of_work() as session:  # 1. read
        order = order_of_charge(session, data.reference, intent)
        known = order is not None and order.customer_id is not None
    charge: dict[str, Any] = {}
    if not known and data.reference and stripe_api.configured(ctx.settings):
        try:  # 2. who paid: the charge's billing email and the order it names (no transaction open)
            charge = stripe_api.StripePayments.from_settings(ctx.settings).charge(data.reference)
        except RateLimited as exc:
            raise jobs.RetryLater(exc.retry_after, "rate limited by Stripe") from exc
        except (NotFound, ProviderError):
            charge = {}
    with ctx.db.unit_of_work() as session:  # 3. write
        dispute = apply_event(session, ctx.settings, event, data, intent, charge)
        opened = dispute.conversation_id is not None
    if not opened:  # the dispute is kept (the card shows it); Admin → Jobs says why no conversation
        raise jobs.Permanent(f"dispute {data.dispute_id}: no order or billing email names the customer")


def apply_event(session: Session, settings: Any, event: dict[str, Any], data: DisputeData,
                intent: str | None, charge: dict[str, Any]) -> Dispute:
    order = order_of_charge(session, data.reference, intent) or _order_of_metadata(session, charge)
    created = int(event.get("created") or 0)
    dispute, changed = sync.upsert_dispute(session, stripe_api.PROVIDER, data,
                                           order_id=order.id if order else None, event_time=created)
    customer = (order.customer if order else None) or _customer_of_charge(session, charge)
    if customer is None:
        return dispute
    conversation = session.get(Conversation, dispute.conversation_id) if dispute.conversation_id else None
    if conversation is None:
        conversation = tickets.create_conversation(
            session, SYSTEM, inbox=dispute_inbox(session, settings), customer=customer, channel=Channel.email,
            subject=f"Dispute: {_money(data.amount, data.currency)}"
                    f"{f' on order {order.display_name}' if order else ''} ({_words(data.reason)})")
        dispute.conversation_id = conversation.id
    if TAG not in {t.name for t in conversation.tags}:
        tickets.set_tags(session, SYSTEM, conversation, [*(t.name for t in conversation.tags), TAG])
    if order is not None:
        linking.link_order(session, SYSTEM, conversation, order, source="auto")
        sync.enqueue_fetch(session, settings, order)  # the card's refunds and charge, fresh
    # The note is keyed by the event: a replay (or a retry of this job) posts it once.
    tickets.add_note(session, SYSTEM, conversation,
                     body=note_text(event.get("type", ""), data, changed, bool(event.get("livemode"))),
                     client_msg_id=f"stripe:{event.get('id')}"[:64])
    session.flush()
    return dispute


def note_text(event_type: str, data: DisputeData, current: bool, livemode: bool = True) -> str:
    what = {"charge.dispute.created": "Stripe: a dispute was opened",
            "charge.dispute.closed": f"Stripe: the dispute was closed ({_words(data.status)})",
            "charge.dispute.funds_withdrawn": "Stripe: the disputed funds were withdrawn",
            "charge.dispute.funds_reinstated": "Stripe: the disputed funds were reinstated",
            }.get(event_type, "Stripe: the dispute was updated")
    lines = [f"{what}.", f"Amount: {_money(data.amount, data.currency)}", f"Reason: {_words(data.reason)}",
             f"Status: {_words(data.status)}"]
    if data.evidence_due_by:
        lines.append(f"Evidence due by: {data.evidence_due_by:%Y-%m-%d %H:%M} UTC")
    lines.append(f"Dispute: {data.dispute_id}" + (f" on charge {data.reference}" if data.reference else ""))
    if data.status in ("needs_response", "warning_needs_response"):
        lines.append(f"Respond with evidence in Stripe: https://dashboard.stripe.com/{'' if livemode else 'test/'}"
                     f"disputes/{data.dispute_id}")
    if not current:
        lines.append("(An older event, arrived late: the dispute keeps its newer state.)")
    return "\n".join(lines)


def _money(amount: Decimal | None, currency: str | None) -> str:
    return f"{amount:.2f} {currency or ''}".strip() if amount is not None else "unknown amount"


def _words(value: str | None) -> str:
    return (value or "unknown").replace("_", " ")


def _order_of_metadata(session: Session, charge: dict[str, Any]) -> Order | None:
    metadata = charge.get("metadata") if isinstance(charge.get("metadata"), dict) else {}
    ids = [str(v)[:64] for k, v in metadata.items() if k in ("order_id", "order_number") and v]
    if not ids:
        return None
    return session.scalar(select(Order).where(or_(Order.order_id.in_(ids), Order.number.in_(ids)))
                          .order_by(Order.id))


def _customer_of_charge(session: Session, charge: dict[str, Any]) -> Customer | None:
    billing = charge.get("billing_details") if isinstance(charge.get("billing_details"), dict) else {}
    for email in (billing.get("email"), charge.get("receipt_email")):
        if isinstance(email, str) and email:
            try:
                address = normalise_email(email)
            except Invalid:
                continue
            name = billing.get("name") if isinstance(billing.get("name"), str) else None
            return crm.customer_for_email(session, SYSTEM, address, name)
    return None


def dispute_inbox(session: Session, settings: Any) -> Inbox:
    """HELPDESK_PAYMENTS_DISPUTE_INBOX by name, else the first email inbox, else the first inbox;
    with none at all, a "Disputes" email inbox (replies to the customer go by email)."""
    name = settings.get("PAYMENTS_DISPUTE_INBOX")
    inbox = (session.scalar(select(Inbox).filter_by(name=name)) if name else None) \
        or session.scalar(select(Inbox).filter_by(channel=Channel.email).order_by(Inbox.id)) \
        or session.scalar(select(Inbox).order_by(Inbox.id))
    if inbox is None:
        inbox = Inbox(name="Disputes", channel=Channel.email, settings={},
                      ingest_token_hash=tickets.hash_secret(secrets.token_urlsafe(32)))
        session.add(inbox)
        session.flush()
    return inbox
