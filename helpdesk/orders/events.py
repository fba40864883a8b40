"""What happens to orders, for listeners elsewhere (console pushes, CRM timelines)."""

from __future__ import annotations

from dataclasses import dataclass

from helpdesk.events import Event


@dataclass(frozen=True)
class OrderSynced(Event):
    order_id: int
    customer_id: int | None
    created: bool


@dataclass(frozen=True)
class OrderLinked(Event):
    conversation_id: int
    order_id: int
    state: str  # linked, suggested or dismissed
    source: str


@dataclass(frozen=True)
class OrdersMentioned(Event):
    """A message names something that looks like an order number: recognition has work to do."""

    message_id: int


@dataclass(frozen=True)
class OrderActionFinished(Event):
    """A refund, cancel, ... came back from the shop (status "done" or "failed")."""

    action_id: int
    order_id: int
    conversation_id: int | None
    status: str


@dataclass(frozen=True)
class OrderLookedUp(Event):
    """A shopper found an order in the widget by its number and email (answered without an agent)."""

    order_id: int
    customer_id: int | None
