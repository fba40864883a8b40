"""Order actions: refund, cancel, reship, update the shipping address, resend the confirmation.

`request_action` checks the request against the stored order and the caller's refund limit and
writes the action with its job in the caller's transaction: nothing reaches the shop unless the
request is sound. The job calls the shop with no transaction open, then records the outcome, the
audit entry, the conversation note (and, if asked, the message to the shopper) and the order as
the shop now has it, in one short transaction."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpdesk import events, jobs
from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit
from helpdesk.actors import Actor
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, Forbidden, Invalid
from helpdesk.orders import CONNECTORS, services, sync
from helpdesk.orders.connector import (
    ActionLine,
    ActionRequest,
    ActionResult,
    PayloadError,
    PlatformError,
    PlatformRateLimited,
)
from helpdesk.orders.events import OrderActionFinished
from helpdesk.orders.models import ActionStatus, Order, OrderAction
from helpdesk.runtime import JobContext
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation

log = logging.getLogger(__name__)

JOB = "orders.action"
TYPES = ("refund", "cancel", "reship", "update_address", "resend_confirmation")
CENT = Decimal("0.01")
MAX_REASON = 500
ADDRESS_FIELDS = ("first_name", "last_name", "name", "company", "address1", "address2", "address_1", "address_2",
                  "city", "province", "province_code", "state", "zip", "postcode", "country", "country_code",
                  "phone")


def remaining(order: Order) -> Decimal:
    return max(Decimal("0"), (order.total or Decimal("0")) - (order.refunded_total or Decimal("0")))


def refund_limit(settings: Mapping[str, Any], actor: Actor) -> Decimal | None:
    """The most one refund by this actor may give back, in the shop's currency (None: no limit)."""
    if actor.type == "system":
        return None
    manager = actor.role is not None and actor.role.rank >= Role.manager.rank
    key, default = ("REFUND_LIMIT_MANAGER", None) if manager else ("REFUND_LIMIT_AGENT", "100")
    value = settings.get(key, default)
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise Invalid("settings", f"HELPDESK_{key} is not an amount") from None


def _amount(value: Any, name: str = "amount") -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid(name, "must be a number, e.g. 12.50", code="invalid_amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise Invalid(name, f"{value!r} is not a number", code="invalid_amount") from None
    if not amount.is_finite() or amount <= 0:
        raise Invalid(name, "must be more than zero", code="invalid_amount")
    if amount != amount.quantize(CENT):
        raise Invalid(name, "at most two decimal places", code="invalid_amount")
    return amount.quantize(CENT)


def _flag(data: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise Invalid(name, "must be true or false")
    return value


def _lines(order: Order, value: Any) -> list[dict[str, Any]]:
    if value in (None, []):
        return []
    if not isinstance(value, list) or len(value) > 250:
        raise Invalid("line_items", "a list of {id, quantity}")
    mine = {li.external_id: li for li in order.line_items if li.external_id}
    lines: dict[str, dict[str, Any]] = {}
    for item in value:
        if not isinstance(item, Mapping):
            raise Invalid("line_items", "a list of {id, quantity}")
        ref = str(item.get("id", ""))
        line = mine.get(ref)
        if line is None:
            raise Invalid("line_items", f"{ref or '(no id)'} is not a line item of order {order.display_name}",
                          code="unknown_line_item")
        quantity = item.get("quantity", line.quantity)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= line.quantity:
            raise Invalid("line_items", f"quantity of {line.title} must be 1 to {line.quantity}")
        lines[ref] = {"id": ref, "quantity": quantity, "price": f"{line.price:.2f}"}
    return list(lines.values())


def _address(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise Invalid("address", "an object with the new shipping address", code="invalid_address")
    address = {k: str(v).strip()[:255] for k, v in value.items() if k in ADDRESS_FIELDS and v not in (None, "")}
    if not (address.get("country") or address.get("country_code")):
        raise Invalid("address", "needs a country", code="invalid_address")
    if not (address.get("address1") or address.get("address_1")) or not address.get("city"):
        raise Invalid("address", "needs a street (address1) and a city", code="invalid_address")
    return address


def check(session: Session, settings: Mapping[str, Any], actor: Actor, order: Order,
          data: Mapping[str, Any]) -> dict[str, Any]:
    """The request as it will be carried out, or a domain error saying what is wrong with it."""
    kind = data.get("type")
    if kind not in TYPES:
        raise Invalid("type", f"one of {', '.join(TYPES)}")
    desc = CONNECTORS.get(order.platform)
    if desc is None or kind not in desc.actions:
        raise Invalid("type", f"{desc.label if desc else order.platform} cannot {kind.replace('_', ' ')} "
                      "from the helpdesk", code="unsupported_action")
    if order.cancelled or order.status == "cancelled":
        raise Conflict(f"order {order.display_name} is cancelled", code="order_cancelled")
    left = remaining(order)
    refunded = order.financial_status == "refunded" or (order.total > 0 and left <= 0)
    if refunded and kind in ("refund", "cancel", "update_address"):
        raise Conflict(f"order {order.display_name} is already refunded in full", code="already_refunded")
    reason = data.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        raise Invalid("reason", f"text of at most {MAX_REASON} characters")
    params: dict[str, Any] = {"type": kind, "reason": (reason or "").strip() or None,
                              "notify": _flag(data, "notify_customer")}
    amount: Decimal | None = None
    if kind == "refund":
        lines = _lines(order, data.get("line_items"))
        shipping = Decimal("0")
        if data.get("shipping") is True:
            shipping = order.shipping_total or Decimal("0")
        elif data.get("shipping") not in (None, False):
            shipping = _amount(data["shipping"], "shipping")
            if shipping > (order.shipping_total or Decimal("0")):
                raise Invalid("shipping", f"more than the order's shipping of {order.shipping_total or 0:.2f}")
        if data.get("amount") is not None:
            amount, mode = _amount(data["amount"]), "amount"
        elif lines:  # the platform works out the lines' worth (with their tax); this is for the limit
            worth = sum((Decimal(li["price"]) * li["quantity"] for li in lines), Decimal("0"))
            amount, mode = worth + shipping, "lines"
        else:
            amount, mode = left, "whole"
        if amount > left:
            raise Invalid("amount", f"{amount:.2f} is more than the {left:.2f} {order.currency} left to refund",
                          code="amount_exceeds_remaining")
        params.update(amount=f"{amount:.2f}", lines=lines, shipping=f"{shipping:.2f}", mode=mode,
                      restock=_flag(data, "restock"))
    elif kind == "cancel":
        if order.fulfillment_status in ("fulfilled", "partial"):
            raise Conflict(f"order {order.display_name} is already fulfilled: refund or reship it instead",
                           code="already_fulfilled")
        refund = _flag(data, "refund", True)
        params.update(restock=_flag(data, "restock", True), refund=refund)
        if refund and left > 0:
            amount = left
            params["amount"] = f"{amount:.2f}"
    elif kind == "reship":
        params.update(lines=_lines(order, data.get("line_items")), complete=_flag(data, "complete"))
    elif kind == "update_address":
        if order.fulfillment_status in ("fulfilled", "partial"):
            raise Conflict(f"order {order.display_name} has shipped: the address can no longer change",
                           code="already_fulfilled")
        params["address"] = _address(data.get("address"))
    limit = refund_limit(settings, actor)
    if amount is not None and limit is not None and amount > limit:
        raise Forbidden(f"refunds above {limit:.2f} {order.currency} need a manager", code="limit_exceeded")
    return params


def request_action(session: Session, settings: Mapping[str, Any], actor: Actor, order: Order,
                   data: Mapping[str, Any], idempotency_key: str) -> tuple[OrderAction, bool]:
    """Check and queue an action. A repeat of the key returns the first action (created False)."""
    key = (idempotency_key or "").strip()
    if not key or len(key) > 255:
        raise Invalid("idempotency_key", "send an Idempotency-Key header of 1 to 255 characters",
                      code="missing_idempotency_key")
    existing = session.scalar(select(OrderAction).filter_by(order_id=order.id, idempotency_key=key))
    if existing is not None:
        if existing.type != data.get("type"):
            raise Conflict("this Idempotency-Key was used for another action", code="idempotency_key_reused")
        return existing, False
    params = check(session, settings, actor, order, data)
    if sync.configured(order.platform, settings, order.shop, session) is None:
        raise Invalid("order", f"the {order.platform} shop {order.shop} is not connected (Admin → Shops)",
                      code="not_configured")
    conversation = None
    if data.get("conversation_id") is not None:
        if not isinstance(data["conversation_id"], str):
            raise Invalid("conversation_id", "a conversation id")
        conversation = tickets.get_conversation(session, data["conversation_id"], actor)
    action = OrderAction(order_id=order.id, idempotency_key=key, type=params["type"], params=params,
                         amount=Decimal(params["amount"]) if params.get("amount") else None, currency=order.currency,
                         agent_id=actor.id if actor.is_agent else None, actor_name=actor.name[:200],
                         actor_role=actor.role.value if actor.role else None,
                         conversation_id=conversation.id if conversation else None,
                         notify_customer=params["notify"], status=ActionStatus.pending, result={})
    try:
        with session.begin_nested():  # the same key sent twice at once: one action
            session.add(action)
            session.flush()
    except IntegrityError:
        existing = session.scalar(select(OrderAction).filter_by(order_id=order.id, idempotency_key=key))
        if existing is None:
            raise
        return existing, False
    audit(session, actor, "orders.action_requested", "order", order.public_id, order_action=action.public_id,
          type=action.type, amount=params.get("amount"), currency=order.currency)
    jobs.enqueue(session, JOB, {"action_id": action.id}, dedupe_key=f"{JOB}:{action.id}", max_attempts=3)
    return action, True


def actions_of(session: Session, order: Order) -> list[OrderAction]:
    return list(session.scalars(select(OrderAction).filter_by(order_id=order.id)
                                .order_by(OrderAction.created_at.desc(), OrderAction.id.desc()).limit(100)))


def to_request(action: OrderAction, order: Order) -> ActionRequest:
    p = action.params
    amount = Decimal(p["amount"]) if p.get("amount") and p.get("mode") != "lines" else None
    return ActionRequest(
        type=action.type, order_id=order.order_id, currency=order.currency, amount=amount,
        lines=[ActionLine(li["id"], int(li["quantity"]), Decimal(li["price"])) for li in p.get("lines") or []],
        shipping=Decimal(p.get("shipping") or "0"), restock=bool(p.get("restock")), refund=bool(p.get("refund")),
        reason=p.get("reason"), notify=bool(p.get("notify")), address=dict(p.get("address") or {}),
        complete=bool(p.get("complete")), whole=p.get("mode") == "whole")


def action_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    with ctx.db.unit_of_work() as session:  # 1. read, and mark the action as sent, briefly
        action = session.get(OrderAction, payload["action_id"])
        if action is None or action.status != ActionStatus.pending:
            return  # done already
        if action.result.get("sent"):
            # A rerun after a crash while the shop was asked: it may have done it, and a refund
            # must never go twice, so an agent looks at the shop instead.
            finish(session, action, None, "interrupted while the shop was asked; check the order in the shop")
            return
        action.result = {"sent": True}
        order = action.order
        request = to_request(action, order)
        conn = sync.configured(order.platform, ctx.settings, order.shop, session)
    result: ActionResult | None = None
    error: str | None = None
    refreshed = None
    if conn is None:
        error = f"the {order.platform} shop {order.shop} is not configured"
    else:
        try:  # 2. the shop, with no transaction open
            result = conn.act(request)
        except PlatformRateLimited as exc:  # refused, so nothing was done: ask again after its wait
            with ctx.db.unit_of_work() as session:
                if (again := session.get(OrderAction, payload["action_id"])) is not None:
                    again.result = {}
            raise jobs.RetryLater(exc.retry_after, "rate limited by the shop") from exc
        except (PlatformError, PayloadError) as exc:
            error = str(exc)
        except (requests.RequestException, ConnectionError) as exc:
            # No answer: the shop may or may not have done it, so never retry a refund blindly.
            error = f"no answer from the shop ({exc.__class__.__name__}); check the order in the shop"
        try:
            refreshed = conn.fetch_order(request.order_id)
        except Exception as exc:  # the refresh is a courtesy: a webhook or the next sync brings it too
            log.warning("refresh of %s order %s after an action failed: %s", order.platform, request.order_id, exc)
    with ctx.db.unit_of_work() as session:  # 3. write, briefly
        action = session.get(OrderAction, payload["action_id"])
        if action is None or action.status != ActionStatus.pending:
            return
        finish(session, action, result, error)
        if refreshed is not None:
            services.upsert_order(session, actor_of(action), refreshed)


def actor_of(action: OrderAction) -> Actor:
    if action.agent_id is None:
        return Actor("system", None, action.actor_name or "Helpdesk")
    return Actor("agent", action.agent_id, action.actor_name, Role(action.actor_role) if action.actor_role else None)


def finish(session: Session, action: OrderAction, result: ActionResult | None, error: str | None) -> None:
    actor = actor_of(action)
    order = action.order
    action.finished_at = utcnow()
    if result is not None:
        action.status = ActionStatus.done
        action.result = {"summary": result.summary, "external_id": result.external_id,
                         "amount": f"{result.amount:.2f}" if result.amount is not None else None, **result.data}
    else:
        action.status = ActionStatus.failed
        action.result = {}
        action.error = (error or "failed")[:4000]
    events.record(session, OrderActionFinished(action.id, order.id, action.conversation_id, action.status.value))
    audit(session, actor, f"orders.action_{action.status.value}", "order", order.public_id,
          order_action=action.public_id, type=action.type, amount=action.result.get("amount"), error=action.error)
    if action.conversation_id is None:
        return
    conversation = session.get(Conversation, action.conversation_id)
    if conversation is None:
        return
    what = action.result.get("summary") if result else f"{action.type.replace('_', ' ').capitalize()} failed: {error}"
    note_actor = actor if actor.is_agent else Actor("agent", None, "Helpdesk")
    tickets.add_note(session, note_actor, conversation, body=f"Order {order.display_name}: {what}",
                     client_msg_id=f"order-action:{action.public_id}")
    if result is not None and action.notify_customer:
        tickets.post_message(session, note_actor, conversation,
                             body=customer_text(action, order, result),
                             client_msg_id=f"order-action-msg:{action.public_id}")


def customer_text(action: OrderAction, order: Order, result: ActionResult) -> str:
    money = f"{result.amount:.2f} {order.currency}" if result.amount is not None else ""
    return {
        "refund": f"We have refunded {money} for your order {order.display_name}. It can take a few days to "
                  "reach your account.",
        "cancel": f"Your order {order.display_name} is cancelled" + (f" and {money} is refunded." if money else "."),
        "reship": f"We are sending a replacement for your order {order.display_name}.",
        "update_address": f"The shipping address of your order {order.display_name} is updated.",
        "resend_confirmation": f"We have sent the confirmation of your order {order.display_name} again.",
    }.get(action.type, result.summary)


def action_dict(action: OrderAction) -> dict[str, Any]:
    from helpdesk.tickets.serialize import iso

    p = action.params
    return {"id": action.public_id, "type": action.type, "status": action.status.value,
            "amount": f"{action.amount:.2f}" if action.amount is not None else None, "currency": action.currency,
            "reason": p.get("reason"), "line_items": [{"id": li["id"], "quantity": li["quantity"]}
                                                      for li in p.get("lines") or []],
            "restock": p.get("restock"), "refund": p.get("refund"), "address": p.get("address"),
            "notify_customer": action.notify_customer, "summary": action.result.get("summary"),
            "error": action.error, "requested_by": action.actor_name, "created_at": iso(action.created_at),
            "finished_at": iso(action.finished_at)}


def init_app(runtime: Any) -> None:
    runtime.jobs.register(JOB, action_job)
