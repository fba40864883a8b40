"""Payments: an order's charge, refunds and disputes from Stripe or PayPal on the order card, and
Stripe's dispute webhooks opening conversations. Above orders/ and tickets/: it reads orders and
opens conversations; neither imports it (the order card asks for the `orders.payments` capability)."""

from __future__ import annotations

from typing import Any


def init_app(app: Any, runtime: Any) -> None:
    """The webhook route, the refresh button, the jobs, the order card's payment data."""
    from helpdesk.extensions import csrf
    from helpdesk.orders.events import OrderSynced
    from helpdesk.payments import disputes, sync, views, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(views.bp)
    csrf.exempt(webhooks.bp)  # authenticated by Stripe's signature, no cookies
    runtime.jobs.register(sync.FETCH, sync.fetch_job)
    runtime.jobs.register(disputes.DISPUTE_EVENT, disputes.dispute_job)
    database, settings = runtime.db, runtime.settings
    runtime.provide("orders.payments", lambda session, orders: sync.payments_of(session, orders, settings))

    def fetch_payment(event: OrderSynced) -> None:
        # After the order's commit, in a unit of work of its own: the job asks the provider.
        from helpdesk.orders.models import Order
        from helpdesk.payments import paypal_api, stripe_api

        if not (stripe_api.configured(settings) or paypal_api.configured(settings)):
            return  # most installs: no provider, no unit of work per stored order
        with database.unit_of_work() as session:
            order = session.get(Order, event.order_id)
            if order is not None:
                sync.enqueue_fetch(session, settings, order)

    runtime.events.subscribe(OrderSynced, fetch_payment)
