"""Self-service in the widget: order tracking, cancel and return requests, and the agent's card
that carries them out through the order actions. A room on top of chat and orders."""

from __future__ import annotations

from typing import Any


def init_app(app: Any, runtime: Any) -> None:
    from helpdesk.crm.merging import CustomerErased, CustomersMerged
    from helpdesk.orders.events import OrderActionFinished, OrderLookedUp
    from helpdesk.selfservice import console, services
    from helpdesk.selfservice.models import Kind

    app.register_blueprint(console.bp)
    # The request's message in the conversation page shows as its card.
    runtime.panels.add("conversation.message", "selfservice", console.card)
    # No box of its own in the sidebar: it loads the card's script on every conversation page, so a
    # request that arrives while the agent reads draws as its card.
    runtime.panels.add("conversation.sidebar", "selfservice", lambda _session, _conv: {}, "selfservice/_live.html")
    # The order action's outcome (in its own transaction) completes the request and tells the shopper.
    runtime.events.subscribe_in_transaction(OrderActionFinished, services.on_action_finished)

    def looked_up(session: Any, ev: OrderLookedUp) -> None:
        from helpdesk.orders.models import Order

        order = session.get(Order, ev.order_id)
        if order is not None:
            services.record_answered(session, Kind.lookup, order, ev.customer_id)

    runtime.events.subscribe_in_transaction(OrderLookedUp, looked_up)
    # The customer's own words go with a GDPR erase (the counts stay); a merge moves their requests.
    runtime.events.subscribe_in_transaction(CustomerErased, services.erase_customer)
    runtime.events.subscribe_in_transaction(CustomersMerged, services.merge_customers)
