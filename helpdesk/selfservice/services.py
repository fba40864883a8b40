"""Self-service in the widget: a shopper tracks a parcel, asks to cancel an order or starts a
return; the agent carries a request out through the order actions or declines it.

The shopper proves an order is theirs either by being verified (the shop's HMAC identity: only
their own customer's orders) or by giving its number and email, exactly as the order lookup does.
Every check runs before anything is written, so a refused request stores nothing. A cancel or a
return becomes a message in the shopper's open conversation (or a new one) with the order linked
and the request stored structured; the agent's one click goes through `orders.actions`, whose
finish event tells us (and so the shopper) how it went."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpdesk.actors import SYSTEM, Actor
from helpdesk.chat import assignment, visitors
from helpdesk.chat.models import ChatVisitor
from helpdesk.crm.merging import CustomerErased, CustomersMerged
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.i18n import N_
from helpdesk.orders import actions, linking
from helpdesk.orders import widget as orders_widget
from helpdesk.orders.events import OrderActionFinished
from helpdesk.orders.models import ActionStatus, Order, OrderAction
from helpdesk.orders.tracking import tracking_link
from helpdesk.selfservice.models import Kind, SelfServiceRequest, Status
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Message
from helpdesk.tickets.models import Status as ConversationStatus

# The reasons a shopper picks from (codes are stored; the widget and console show the labels).
# Marked for extraction: the agent's card shows them in the agent's language (selfservice/console.py).
REASONS: dict[str, str] = {
    "damaged": N_("Arrived damaged"),
    "wrong_item": N_("Wrong item sent"),
    "too_small": N_("Too small"),
    "too_large": N_("Too large"),
    "not_as_described": N_("Not as described"),
    "changed_mind": N_("Changed my mind"),
    "other": N_("Other"),
}
MAX_NOTE = 1000
MAX_ITEMS = 50
SHIPPED = ("fulfilled", "partial")
OPEN = (Status.requested, Status.approved)
# A shopper checking the same parcel five times is one question answered, not five.
ANSWERED_ONCE_PER = timedelta(hours=24)
MESSAGE_ID = "selfservice:{}"  # the shopper's request message
OUTCOME_ID = "selfservice-outcome:{}"  # what we tell the shopper afterwards


@dataclass(frozen=True)
class Shopper:
    visitor: ChatVisitor
    verified: bool  # the browser's own HMAC verification, checked by the chat room


def order_for(session: Session, shopper: Shopper, data: Any) -> Order:
    """The order the request is about, if the shopper may act on it; anyone else's is 'not found'."""
    data = data if isinstance(data, Mapping) else {}
    if data.get("number") is not None or data.get("email") is not None:
        return orders_widget.lookup_order(session, data.get("number"), data.get("email"))
    ref = data.get("order_id")
    if not isinstance(ref, str) or not ref:
        raise Invalid("order", "pick one of your orders, or give its number and the email used for it")
    if not shopper.verified:
        raise Forbidden("look the order up with its number and email first", code="not_verified")
    order = session.scalar(select(Order).filter_by(public_id=ref))
    if order is None or shopper.visitor.customer_id is None or order.customer_id != shopper.visitor.customer_id:
        raise NotFound("no such order")
    return order


def stage(order: Order) -> str:
    """One word for the shopper, the same the widget's order card shows."""
    if order.cancelled or order.status == "cancelled":
        return "cancelled"
    if order.financial_status == "refunded":
        return "refunded"
    if order.fulfillment_status == "fulfilled":
        return "shipped"
    if order.fulfillment_status == "partial":
        return "partly_shipped"
    return "processing"


def track(session: Session, shopper: Shopper, order: Order) -> dict[str, Any]:
    """Where the parcels are, from the fulfilments the shop sent us: no call to anyone."""
    shipments = [{"carrier": f.carrier, "tracking_number": f.tracking_number,
                  "tracking_url": tracking_link(f.carrier, f.tracking_number, f.tracking_url),
                  "status": f.status, "shipped_at": f.shipped_at.isoformat() if f.shipped_at else None}
                 for f in order.fulfillments]
    record_answered(session, Kind.track, order, shopper.visitor.customer_id)
    return {"order": {"id": order.public_id, "name": order.display_name, "stage": stage(order)},
            "shipments": shipments}


def record_answered(session: Session, kind: Kind, order: Order, customer_id: int | None) -> None:
    """A lookup or a tracking answer given without an agent: counted once a day per order and shopper."""
    since = utcnow() - ANSWERED_ONCE_PER
    if session.scalar(select(SelfServiceRequest.id).where(
            SelfServiceRequest.kind == kind, SelfServiceRequest.order_id == order.id,
            SelfServiceRequest.customer_id == customer_id if customer_id is not None
            else SelfServiceRequest.customer_id.is_(None),
            SelfServiceRequest.created_at >= since).limit(1)) is not None:
        return
    session.add(SelfServiceRequest(kind=kind, status=Status.done, order_id=order.id, customer_id=customer_id,
                                   handled_at=utcnow()))
    session.flush()


def _note(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NOTE:
        raise Invalid("note", f"text of at most {MAX_NOTE} characters")
    return value.strip() or None


def _open_request(session: Session, kind: Kind, order: Order) -> SelfServiceRequest | None:
    return session.scalar(select(SelfServiceRequest).where(
        SelfServiceRequest.kind == kind, SelfServiceRequest.order_id == order.id,
        SelfServiceRequest.status.in_(OPEN)).limit(1))


def request_cancel(session: Session, shopper: Shopper, order: Order, data: Any, *,
                   online_agent_ids: Collection[int] = ()) -> tuple[SelfServiceRequest, Message]:
    data = data if isinstance(data, Mapping) else {}
    if order.cancelled or order.status == "cancelled":
        raise Conflict(f"order {order.display_name} is already cancelled", code="order_cancelled")
    if order.fulfillment_status in SHIPPED:
        raise Conflict(f"order {order.display_name} has already shipped, so it can no longer be cancelled; "
                       "start a return instead", code="already_fulfilled")
    note = _note(data.get("note"))
    if (existing := _open_request(session, Kind.cancel, order)) is not None:
        return existing, _message_of(session, existing)  # a second tap: the first request stands
    request = SelfServiceRequest(kind=Kind.cancel, order_id=order.id, order=order,
                                 customer_id=shopper.visitor.customer_id, note=note)
    body = f"Please cancel my order {order.display_name}." + (f"\n\n{note}" if note else "")
    return request, _post(session, shopper, request, body, online_agent_ids)


def returned_quantities(session: Session, order: Order) -> Counter[str]:
    """How many of each line are in return requests already (asked, being refunded or done)."""
    counts: Counter[str] = Counter()
    for items in session.scalars(select(SelfServiceRequest.items).where(
            SelfServiceRequest.order_id == order.id, SelfServiceRequest.kind == Kind.return_,
            SelfServiceRequest.status != Status.declined)):
        for item in items or []:
            counts[str(item["id"])] += int(item["quantity"])
    return counts


def returnable(session: Session, order: Order) -> dict[str, int]:
    """Per line item id: how many the shopper may still return."""
    done = returned_quantities(session, order)
    return {li.external_id: max(0, li.quantity - done[li.external_id])
            for li in order.line_items if li.external_id}


def _return_items(session: Session, order: Order, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value or len(value) > MAX_ITEMS:
        raise Invalid("items", "pick the items to return and how many of each", code="invalid_items")
    lines = {li.external_id: li for li in order.line_items if li.external_id}
    left = returnable(session, order)
    items: dict[str, dict[str, Any]] = {}
    for item in value:
        if not isinstance(item, Mapping):
            raise Invalid("items", "pick the items to return and how many of each", code="invalid_items")
        ref = str(item.get("id", ""))
        line = lines.get(ref)
        if line is None:
            raise Invalid("items", f"{ref or '(no id)'} is not an item of order {order.display_name}",
                          code="unknown_line_item")
        if ref in items:
            raise Invalid("items", f"{line.title} is listed twice", code="invalid_items")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise Invalid("items", f"the quantity of {line.title} must be a whole number of at least 1",
                          code="invalid_quantity")
        if quantity > left[ref]:
            bought = f"you bought {line.quantity}" + (f" and {line.quantity - left[ref]} are already being "
                                                     "returned" if left[ref] < line.quantity else "")
            raise Invalid("items", f"at most {left[ref]} of {line.title} can be returned ({bought})",
                          code="quantity_too_high")
        items[ref] = {"id": ref, "title": line.title[:200], "quantity": quantity}
    return list(items.values())


def request_return(session: Session, shopper: Shopper, order: Order, data: Any, *,
                   online_agent_ids: Collection[int] = ()) -> tuple[SelfServiceRequest, Message]:
    data = data if isinstance(data, Mapping) else {}
    if order.cancelled or order.status == "cancelled":
        raise Conflict(f"order {order.display_name} is cancelled", code="order_cancelled")
    if order.financial_status == "refunded":
        raise Conflict(f"order {order.display_name} is already refunded in full", code="already_refunded")
    if order.fulfillment_status not in SHIPPED:
        raise Conflict(f"order {order.display_name} has not shipped yet: ask to cancel it instead",
                       code="not_fulfilled")
    items = _return_items(session, order, data.get("items"))
    reason = data.get("reason")
    if not isinstance(reason, str) or reason not in REASONS:
        raise Invalid("reason", f"pick one of: {', '.join(REASONS.values())}", code="unknown_reason")
    note = _note(data.get("note"))
    request = SelfServiceRequest(kind=Kind.return_, order_id=order.id, order=order,
                                 customer_id=shopper.visitor.customer_id, items=items, reason=reason, note=note)
    listed = ", ".join(f"{i['quantity']} \u00d7 {i['title']}" for i in items)
    body = (f"I would like to return {listed} from order {order.display_name}. Reason: {REASONS[reason]}."
            + (f"\n\n{note}" if note else ""))
    return request, _post(session, shopper, request, body, online_agent_ids)


def _post(session: Session, shopper: Shopper, request: SelfServiceRequest, body: str,
          online_agent_ids: Collection[int]) -> Message:
    """The request as the shopper's message: in their conversation still going, else a new one."""
    visitor = shopper.visitor
    actor = visitors.actor_of(session, visitor)
    session.add(request)
    session.flush()
    conversation = visitors.current_conversation(session, visitor)
    if conversation is None or conversation.status is ConversationStatus.resolved:
        conversation = tickets.create_conversation(
            session, actor, inbox=visitor.inbox, customer=visitors.owner_of(session, visitor),
            subject=body.split("\n")[0][:80])
        visitors.record_started(session, visitor, conversation)
        assignment.route_new(session, conversation, online_agent_ids)
    request.conversation_id = conversation.id
    message = tickets.post_message(
        session, actor, conversation, body=body, client_msg_id=MESSAGE_ID.format(request.public_id),
        meta={"self_service": request.public_id},
        author_name=visitor.customer.display_name if visitor.customer else actor.name)
    # The shopper proved the order (verified, or number and email): the agent sees it linked.
    linking.link_for_shopper(session, conversation, request.order)
    return message


def _message_of(session: Session, request: SelfServiceRequest) -> Message:
    message = session.scalar(select(Message).filter_by(conversation_id=request.conversation_id,
                                                       client_msg_id=MESSAGE_ID.format(request.public_id)))
    if message is None:
        raise NotFound("no such request")
    return message


# -- the agent's side ------------------------------------------------------------------------------

def request_in(session: Session, conversation: Conversation, public_id: str) -> SelfServiceRequest:
    request = session.scalar(select(SelfServiceRequest).filter_by(public_id=public_id,
                                                                  conversation_id=conversation.id))
    if request is None or request.kind not in (Kind.cancel, Kind.return_):
        raise NotFound("no such self-service request in this conversation")
    return request


def action_request(request: SelfServiceRequest, form: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The order action that carries the request out: the agent's dialog (`form`, as the console's
    order-action form reads it) may change amounts and lines; the kind is the request's."""
    data = dict(form or {})
    if request.kind is Kind.cancel:
        data = {"restock": True, "refund": True, **data, "type": "cancel"}
    else:
        if not data.get("line_items") and data.get("amount") is None:
            data["line_items"] = [{"id": i["id"], "quantity": i["quantity"]} for i in request.items]
        data = {"restock": True, **data, "type": "refund"}
    data["notify_customer"] = False  # the outcome goes to the shopper from here, once
    data.setdefault("reason", f"Self-service {request.kind.value}: {REASONS.get(request.reason or '', '')}".strip(
        ": ") if request.kind is Kind.return_ else "Cancelled at the customer's request")
    return data


def carry_out(session: Session, settings: Mapping[str, Any], actor: Actor, request: SelfServiceRequest,
              form: Mapping[str, Any] | None, idempotency_key: str) -> OrderAction:
    """The agent's one click: the order action is checked (limits, amounts) and queued; the request
    is approved until the shop answers."""
    if not actor.is_agent:
        raise Forbidden("only agents carry out requests")
    if request.status is not Status.requested:
        raise Conflict(f"this request is {request.status.value} already", code="already_handled")
    conversation = session.get(Conversation, request.conversation_id) if request.conversation_id else None
    if conversation is None:
        raise NotFound("the request's conversation is gone")
    data = {**action_request(request, form), "conversation_id": conversation.public_id}
    action, _created = actions.request_action(session, settings, actor, request.order, data, idempotency_key)
    request.status = Status.approved
    request.order_action_id = action.id
    request.error = None
    _handled(request, actor)
    return action


def decline(session: Session, actor: Actor, request: SelfServiceRequest, reason: Any) -> Message:
    """No, with the reason told to the shopper in the conversation."""
    if not actor.is_agent:
        raise Forbidden("only agents decline requests")
    if request.status is not Status.requested:
        raise Conflict(f"this request is {request.status.value} already", code="already_handled")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise Invalid("reason", "say why, in at most 500 characters", code="missing_reason")
    conversation = session.get(Conversation, request.conversation_id) if request.conversation_id else None
    if conversation is None:
        raise NotFound("the request's conversation is gone")
    request.status = Status.declined
    request.decline_reason = reason.strip()
    _handled(request, actor)
    what = "cancel" if request.kind is Kind.cancel else "accept the return of"
    return tickets.post_message(session, actor, conversation,
                                body=f"We can't {what} order {request.order.display_name}: {request.decline_reason}",
                                client_msg_id=OUTCOME_ID.format(request.public_id))


def _handled(request: SelfServiceRequest, actor: Actor) -> None:
    request.handled_by_id = actor.id
    request.handled_by_name = actor.name[:200]
    request.handled_at = utcnow()


def on_action_finished(session: Session, ev: OrderActionFinished) -> None:
    """In the action's own transaction: the request is done (and the shopper told), or back to the
    agent with the shop's message."""
    request = session.scalar(select(SelfServiceRequest).filter_by(order_action_id=ev.action_id))
    if request is None or request.status is not Status.approved:
        return
    action = session.get(OrderAction, ev.action_id)
    if action is None:
        return
    if action.status is not ActionStatus.done:
        request.status = Status.requested
        request.error = (action.error or "the shop refused")[:2000]
        return
    request.status = Status.done
    request.handled_at = utcnow()
    conversation = session.get(Conversation, request.conversation_id) if request.conversation_id else None
    if conversation is None:
        return
    tickets.post_message(session, SYSTEM, conversation, body=outcome_text(request, action),
                         client_msg_id=OUTCOME_ID.format(request.public_id),
                         meta={"self_service_outcome": request.public_id})


def outcome_text(request: SelfServiceRequest, action: OrderAction) -> str:
    order = request.order
    amount = action.result.get("amount") or (f"{action.amount:.2f}" if action.amount is not None else None)
    money = f"{amount} {action.currency}" if amount else ""
    if request.kind is Kind.cancel:
        return f"Your order {order.display_name} is cancelled" + (f" and {money} is refunded." if money else ".")
    listed = ", ".join(f"{i['quantity']} \u00d7 {i['title']}" for i in request.items)
    return (f"Your return of {listed} from order {order.display_name} is accepted"
            + (f": we have refunded {money}. It can take a few days to reach your account." if money else "."))


def erase_customer(session: Session, ev: CustomerErased) -> None:
    session.execute(update(SelfServiceRequest).where(SelfServiceRequest.customer_id == ev.customer_id)
                    .values(note=None, decline_reason=None, customer_id=None)
                    .execution_options(synchronize_session=False))


def merge_customers(session: Session, ev: CustomersMerged) -> None:
    session.execute(update(SelfServiceRequest).where(SelfServiceRequest.customer_id == ev.source_id)
                    .values(customer_id=ev.target_id).execution_options(synchronize_session=False))


def request_dict(request: SelfServiceRequest) -> dict[str, Any]:
    return {"id": request.public_id, "kind": request.kind.value, "status": request.status.value,
            "order": {"id": request.order.public_id, "name": request.order.display_name},
            "items": [{"id": i["id"], "title": i["title"], "quantity": i["quantity"]} for i in request.items],
            "reason": request.reason, "note": request.note}
