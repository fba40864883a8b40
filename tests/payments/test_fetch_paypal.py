"""An order's PayPal payment, fetched by a job in phases against a fake of PayPal's REST API,
through paypal-server-sdk (captures, checkout orders) and its OAuth token (disputes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from helpdesk import jobs
from helpdesk.payments import sync
from helpdesk.runtime import runtime_of
from tests.payments.conftest import make_woo_order
from tests.payments.fakes import FakePayPal, paypal_capture, paypal_dispute, paypal_order, paypal_refund
from tests.payments.test_fetch_stripe import payment_of
from tests.txprobe import WriteProbe

CAPTURE, ORDER = "2GG279541U471931P", "5O190127TN364715T"
PAID_BY_PAYPAL = {"payment_method": "ppcp-gateway", "payment_method_title": "PayPal"}


def seed(fake: FakePayPal, disputes: int = 1) -> None:
    capture = paypal_capture(CAPTURE, "100.00", order_id=ORDER, status="PARTIALLY_REFUNDED")
    fake.captures[CAPTURE] = capture
    fake.orders[ORDER] = paypal_order(ORDER, capture, [paypal_refund("1JU08902781691411", "25.00")])
    fake.disputes += [paypal_dispute(f"PP-D-{i}", CAPTURE, "75.00") for i in range(disputes)]
    fake.disputes.append(paypal_dispute("PP-D-other", "OTHERTXN"))


def test_capture_refunds_and_paged_disputes_are_stored_with_no_transaction_open(
        app: Flask, fake_paypal: FakePayPal, run_jobs: Any, database_url: str) -> None:
    seed(fake_paypal, disputes=3)
    fake_paypal.page_size = 2
    probe = WriteProbe(database_url)
    fake_paypal.on_request = probe.check
    order_id = make_woo_order(app, 901, transaction_id=CAPTURE, **PAID_BY_PAYPAL)
    assert run_jobs() == 1
    probe.assert_never_held()
    payment, disputes = payment_of(app, order_id)
    assert payment is not None and payment.state == "found"
    assert (payment.provider, payment.reference, payment.status, payment.amount, payment.currency) == (
        "paypal", CAPTURE, "PARTIALLY_REFUNDED", Decimal("100.00"), "USD")
    assert payment.refunded == Decimal("25.00") and [r["id"] for r in payment.refunds] == ["1JU08902781691411"]
    assert sorted(d.dispute_id for d in disputes) == ["PP-D-0", "PP-D-1", "PP-D-2"]  # two pages
    d = disputes[0]
    assert (d.status, d.amount, d.reason) == ("OPEN", Decimal("75.00"), "MERCHANDISE_OR_SERVICE_NOT_RECEIVED")
    assert d.evidence_due_by is not None and d.evidence_due_by.isoformat().startswith("2026-12-15T10:00")
    paths = [r.path for r in fake_paypal.requests]
    assert paths[0] == "/v1/oauth2/token" and f"/v2/payments/captures/{CAPTURE}" in paths
    assert paths.count("/v1/customer/disputes") == 2


def test_the_paypal_order_id_instead_of_a_capture_id_is_followed_to_its_capture(
        app: Flask, fake_paypal: FakePayPal, run_jobs: Any) -> None:
    seed(fake_paypal)
    order_id = make_woo_order(app, 902, transaction_id=ORDER, **PAID_BY_PAYPAL)
    run_jobs()
    payment, disputes = payment_of(app, order_id)
    assert payment is not None and (payment.state, payment.reference) == ("found", CAPTURE)
    assert len(disputes) == 1


def test_an_expired_token_is_fetched_again_once_and_the_job_goes_on(
        app: Flask, fake_paypal: FakePayPal, run_jobs: Any) -> None:
    seed(fake_paypal)
    first = make_woo_order(app, 903, transaction_id=CAPTURE, **PAID_BY_PAYPAL)
    run_jobs()
    issued = fake_paypal.tokens_issued
    second = make_woo_order(app, 904, transaction_id=CAPTURE, **PAID_BY_PAYPAL)
    run_jobs()
    assert fake_paypal.tokens_issued == issued  # the app keeps its token between jobs
    fake_paypal.expire_tokens()  # PayPal ended it before its expires_in: 401 invalid_token
    with runtime_of(app).db.unit_of_work() as s:
        from helpdesk.orders.models import Order

        sync.enqueue_fetch(s, app.config, s.get(Order, first))
    assert run_jobs() == 1
    assert fake_paypal.tokens_issued == issued + 1
    assert payment_of(app, first)[0].state == payment_of(app, second)[0].state == "found"  # type: ignore[union-attr]


def test_wrong_credentials_fail_the_job_for_good(app: Flask, fake_paypal: FakePayPal) -> None:
    seed(fake_paypal)
    order_id = make_woo_order(app, 905, transaction_id=CAPTURE, **PAID_BY_PAYPAL)
    app.config["PAYPAL_CLIENT_SECRET"] = "not-the-secret"
    with pytest.raises(jobs.Permanent, match="401"):
        sync.fetch_job(runtime_of(app).context(), {"order_id": order_id})
    assert payment_of(app, order_id)[0].state == "failed"  # type: ignore[union-attr]


def test_429_reschedules_with_paypals_retry_after(app: Flask, fake_paypal: FakePayPal) -> None:
    seed(fake_paypal)
    order_id = make_woo_order(app, 906, transaction_id=CAPTURE, **PAID_BY_PAYPAL)
    fake_paypal.throttle_next, fake_paypal.retry_after = 1, "12"
    with pytest.raises(jobs.RetryLater) as caught:
        sync.fetch_job(runtime_of(app).context(), {"order_id": order_id})
    assert caught.value.seconds == 12.0
    assert payment_of(app, order_id)[0] is None


def test_an_unknown_capture_is_stored_as_not_found(app: Flask, fake_paypal: FakePayPal, run_jobs: Any) -> None:
    order_id = make_woo_order(app, 907, transaction_id="9XX00000000000000", **PAID_BY_PAYPAL)
    run_jobs()
    payment = payment_of(app, order_id)[0]
    assert payment is not None and payment.state == "not_found"
    assert "does not exist" in (payment.error or "")
