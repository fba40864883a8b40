"""An order's Stripe payment, fetched by a job in phases against a fake of Stripe's API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of, jobs
from helpdesk.payments import sync
from helpdesk.payments.models import Dispute, Payment
from helpdesk.runtime import runtime_of
from tests.payments.conftest import make_woo_order
from tests.payments.fakes import FakeStripe, stripe_charge, stripe_dispute, stripe_refund
from tests.txprobe import WriteProbe

CHARGE = "ch_3MmlLrLkdIwHu7ix0snN0B15"


def payment_of(app: Flask, order_id: int) -> tuple[Payment | None, list[Dispute]]:
    with db_of(app).unit_of_work() as s:
        payment = s.scalar(select(Payment).filter_by(order_id=order_id))
        disputes = list(s.scalars(select(Dispute).filter_by(order_id=order_id)))
        s.expunge_all()
        return payment, disputes


def test_charge_refunds_over_pages_and_dispute_are_stored_with_no_transaction_open(
        app: Flask, fake_stripe: FakeStripe, run_jobs: Any, database_url: str) -> None:
    fake_stripe.add_charge(stripe_charge(CHARGE, amount=19900, refunded=1500))
    fake_stripe.refunds += [stripe_refund(f"re_{i}", CHARGE, 500, created=1679100000 + i) for i in range(3)]
    fake_stripe.refunds.append(stripe_refund("re_other", "ch_other", 999))
    fake_stripe.disputes.append(stripe_dispute(charge_id=CHARGE, amount=18400))
    fake_stripe.page_size = 2  # three refunds: two pages, followed by has_more/starting_after
    probe = WriteProbe(database_url)
    fake_stripe.on_request = probe.check
    order_id = make_woo_order(app, 801, transaction_id=CHARGE)
    assert run_jobs() == 1  # queued by the order's sync
    probe.assert_never_held()
    payment, disputes = payment_of(app, order_id)
    assert payment is not None and payment.state == "found"
    assert (payment.provider, payment.reference, payment.status) == ("stripe", CHARGE, "succeeded")
    assert (payment.amount, payment.captured, payment.refunded, payment.currency) == (
        Decimal("199.00"), Decimal("199.00"), Decimal("15.00"), "USD")
    assert payment.method == "visa •••• 4242"
    assert sorted(r["id"] for r in payment.refunds) == ["re_0", "re_1", "re_2"]
    assert [r.query.get("starting_after") for r in fake_stripe.requests if r.path == "/v1/refunds"] == [
        None, ["re_1"]]
    [dispute] = disputes
    assert (dispute.dispute_id, dispute.status, dispute.amount, dispute.reason) == (
        "dp_1MtJUT2eZvKYlo2CNaw2HvEv", "needs_response", Decimal("184.00"), "fraudulent")
    assert dispute.evidence_due_by is not None and dispute.evidence_due_by.year == 2027
    # Fetched again: the same rows, updated, not doubled.
    with db_of(app).unit_of_work() as s:
        from helpdesk.orders.models import Order

        sync.enqueue_fetch(s, app.config, s.get(Order, order_id))
    assert run_jobs() == 1
    assert len(payment_of(app, order_id)[1]) == 1


def test_a_payment_intent_id_leads_to_its_latest_charge(app: Flask, fake_stripe: FakeStripe, run_jobs: Any) -> None:
    fake_stripe.add_charge(stripe_charge(CHARGE))
    order_id = make_woo_order(app, 802, transaction_id="pi_" + CHARGE[3:])
    run_jobs()
    payment, _ = payment_of(app, order_id)
    assert payment is not None and (payment.state, payment.reference) == ("found", CHARGE)
    assert [r.path for r in fake_stripe.requests][:2] == [f"/v1/payment_intents/pi_{CHARGE[3:]}",
                                                          f"/v1/charges/{CHARGE}"]


def test_without_a_reference_the_charge_is_found_by_its_order_metadata(
        app: Flask, fake_stripe: FakeStripe, run_jobs: Any) -> None:
    fake_stripe.add_charge(stripe_charge("ch_meta", metadata={"order_id": "803"}))
    order_id = make_woo_order(app, 803, transaction_id="", payment_method_title="Credit card")
    run_jobs()
    payment, _ = payment_of(app, order_id)
    assert payment is not None and (payment.state, payment.reference) == ("found", "ch_meta")
    search = next(r for r in fake_stripe.requests if r.path == "/v1/charges/search")
    assert "metadata['order_id']:'803'" in search.query["query"][0]
    with db_of(app).unit_of_work() as s:  # remembered: the next fetch goes straight to the charge
        from helpdesk.orders.models import Order

        assert s.get(Order, order_id).payment_reference == "ch_meta"


def test_429_reschedules_with_stripes_retry_after_and_stores_nothing(
        app: Flask, fake_stripe: FakeStripe) -> None:
    fake_stripe.add_charge(stripe_charge(CHARGE))
    order_id = make_woo_order(app, 804, transaction_id=CHARGE)
    fake_stripe.throttle_next, fake_stripe.retry_after = 1, "7"
    with pytest.raises(jobs.RetryLater) as caught:
        sync.fetch_job(runtime_of(app).context(), {"order_id": order_id})
    assert caught.value.seconds == 7.0
    assert payment_of(app, order_id)[0] is None
    sync.fetch_job(runtime_of(app).context(), {"order_id": order_id})  # the retry gets through
    assert payment_of(app, order_id)[0].state == "found"  # type: ignore[union-attr]


def test_unknown_charge_is_stored_as_not_found_with_stripes_message(
        app: Flask, fake_stripe: FakeStripe, run_jobs: Any) -> None:
    order_id = make_woo_order(app, 805, transaction_id="ch_missing")
    run_jobs()
    payment, _ = payment_of(app, order_id)
    assert payment is not None and payment.state == "not_found"
    assert "No such charge: 'ch_missing'" in (payment.error or "")


def test_a_bad_key_fails_the_job_for_good_with_stripes_message(app: Flask, fake_stripe: FakeStripe) -> None:
    order_id = make_woo_order(app, 806, transaction_id=CHARGE)
    app.config["STRIPE_API_KEY"] = "sk_test_wrong"
    with pytest.raises(jobs.Permanent, match="Invalid API Key"):
        sync.fetch_job(runtime_of(app).context(), {"order_id": order_id})
    payment, _ = payment_of(app, order_id)
    assert payment is not None and payment.state == "failed" and "Invalid API Key" in (payment.error or "")


def test_orders_paid_elsewhere_are_not_looked_up(app: Flask, fake_stripe: FakeStripe, run_jobs: Any) -> None:
    make_woo_order(app, 807, transaction_id="", payment_method="bacs", payment_method_title="Direct bank transfer")
    assert run_jobs() == 0
    assert fake_stripe.requests == []
