"""POST /webhooks/stripe: Stripe-Signature verified by the stripe library; charge.dispute.* open or
update one conversation per dispute, tagged `dispute`, for the order's customer, order linked."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.crm import services as crm
from helpdesk.crm.models import IdentityKind
from helpdesk.jobs import Job
from helpdesk.orders.models import ConversationOrder, Order, WebhookDelivery
from helpdesk.payments.models import Dispute
from helpdesk.tickets.models import Conversation, Message
from tests.payments.conftest import WEBHOOK_SECRET, make_woo_order
from tests.payments.fakes import FakeStripe, stripe_charge, stripe_dispute, stripe_event

CHARGE = "ch_dispute_1"


def signed(body: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """Stripe's scheme: t=TIMESTAMP,v1=HEX(HMAC_SHA256(secret, "TIMESTAMP.BODY"))."""
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def post(client: FlaskClient, event: dict[str, Any] | None = None, *, body: bytes | None = None,
         signature: str | None = None, **sign: Any) -> Any:
    raw = body if body is not None else json.dumps(event).encode()
    headers = {"Content-Type": "application/json"}
    if signature != "":
        headers["Stripe-Signature"] = signature or signed(raw, **sign)
    return client.post("/webhooks/stripe", data=raw, headers=headers)


def counts(app: Flask) -> tuple[int, ...]:
    with db_of(app).unit_of_work() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) or 0
                     for m in (Conversation, Message, Dispute, WebhookDelivery, Job))


def dispute_conversations(app: Flask) -> list[dict[str, Any]]:
    with db_of(app).unit_of_work() as s:
        shown = []
        for d in s.scalars(select(Dispute).order_by(Dispute.id)):
            conv = s.get(Conversation, d.conversation_id) if d.conversation_id else None
            notes = [m.body_text for m in s.scalars(select(Message).filter_by(conversation_id=conv.id, private=True)
                                                    .order_by(Message.seq))] if conv else []
            linked = [link.order.order_id for link in s.scalars(select(ConversationOrder).filter_by(
                conversation_id=conv.id))] if conv else []
            shown.append({"dispute": d.dispute_id, "status": d.status, "conversation": conv.id if conv else None,
                          "customer": conv.customer.email if conv else None, "subject": conv.subject if conv else "",
                          "tags": sorted(t.name for t in conv.tags) if conv else [], "notes": notes,
                          "orders": linked})
        return shown


@pytest.fixture
def order_1301(app: Flask, fake_stripe: FakeStripe, run_jobs: Any) -> int:
    fake_stripe.add_charge(stripe_charge(CHARGE, email="ann@example.com"))
    order_id = make_woo_order(app, 1301, email="ann@example.com", transaction_id=CHARGE)
    run_jobs()  # its payment fetched
    return order_id


def test_created_then_replayed_then_updated_then_closed_keeps_one_tagged_conversation(
        app: Flask, client: FlaskClient, order_1301: int, run_jobs: Any) -> None:
    created = stripe_event("evt_1", "charge.dispute.created",
                           stripe_dispute("dp_1", CHARGE, amount=2935, reason="fraudulent", due_by=1798761600))
    answer = post(client, created)
    assert answer.status_code == 200 and answer.get_json()["result"] == "accepted"
    run_jobs()
    [shown] = dispute_conversations(app)
    assert shown["customer"] == "ann@example.com" and shown["tags"] == ["dispute"]
    assert shown["orders"] == ["1301"] and shown["subject"] == "Dispute: 29.35 USD on order #1301 (fraudulent)"
    [note] = shown["notes"]
    assert "a dispute was opened" in note and "Amount: 29.35 USD" in note and "Reason: fraudulent" in note
    assert "Evidence due by: 2027-01-01 00:00 UTC" in note
    assert "https://dashboard.stripe.com/test/disputes/dp_1" in note
    with db_of(app).unit_of_work() as s:  # the job kept what it needs, not the evidence
        job = s.scalar(select(Job).filter_by(kind="payments.stripe_dispute"))
        assert "evidence" not in job.payload["event"]["data"]["object"]
    # Stripe retries the same event: nothing new.
    before = counts(app)
    assert post(client, created).get_json()["result"] == "duplicate"
    run_jobs()
    assert counts(app)[:4] == before[:4]
    # Later events update the same conversation.
    post(client, stripe_event("evt_2", "charge.dispute.updated",
                              stripe_dispute("dp_1", CHARGE, amount=2935, status="under_review"),
                              created=int(time.time()) + 5))
    post(client, stripe_event("evt_3", "charge.dispute.closed",
                              stripe_dispute("dp_1", CHARGE, amount=2935, status="won"), created=int(time.time()) + 9))
    run_jobs()
    [shown] = dispute_conversations(app)
    assert shown["status"] == "won" and len(shown["notes"]) == 3
    assert "Status: under review" in shown["notes"][1] and "closed (won)" in shown["notes"][2]
    # An older event arriving late is noted but does not turn the dispute back.
    post(client, stripe_event("evt_0", "charge.dispute.updated",
                              stripe_dispute("dp_1", CHARGE, status="needs_response"), created=1))
    run_jobs()
    [shown] = dispute_conversations(app)
    assert shown["status"] == "won" and "arrived late" in shown["notes"][-1]


def test_a_second_dispute_on_the_same_order_gets_its_own_conversation(
        app: Flask, client: FlaskClient, order_1301: int, run_jobs: Any) -> None:
    post(client, stripe_event("evt_a", "charge.dispute.created", stripe_dispute("dp_a", CHARGE)))
    post(client, stripe_event("evt_b", "charge.dispute.created", stripe_dispute("dp_b", CHARGE)))
    run_jobs()
    shown = dispute_conversations(app)
    assert [s["dispute"] for s in shown] == ["dp_a", "dp_b"] and shown[0]["conversation"] != shown[1]["conversation"]


def test_an_unknown_customer_is_created_from_the_charges_billing_email(
        app: Flask, client: FlaskClient, fake_stripe: FakeStripe, run_jobs: Any) -> None:
    fake_stripe.add_charge(stripe_charge("ch_stranger", email="Zed@Example.com"))
    post(client, stripe_event("evt_z", "charge.dispute.created", stripe_dispute("dp_z", "ch_stranger")))
    run_jobs()
    [shown] = dispute_conversations(app)
    assert shown["customer"] == "zed@example.com" and shown["tags"] == ["dispute"] and shown["orders"] == []
    assert [r.path for r in fake_stripe.requests] == ["/v1/charges/ch_stranger"]
    with db_of(app).unit_of_work() as s:
        customer = crm.find_by_identity(s, IdentityKind.email, "zed@example.com")
        assert customer is not None and customer.name == "Jenny Rosen"


def test_the_charges_metadata_links_an_order_the_shop_gave_no_charge_id_for(
        app: Flask, client: FlaskClient, fake_stripe: FakeStripe, run_jobs: Any) -> None:
    make_woo_order(app, 1302, email="meta@example.com", transaction_id="", payment_method_title="Stripe")
    fake_stripe.add_charge(stripe_charge("ch_meta2", email="meta@example.com", metadata={"order_id": "1302"}))
    run_jobs()
    post(client, stripe_event("evt_m", "charge.dispute.created", stripe_dispute("dp_m", "ch_meta2")))
    run_jobs()
    [shown] = dispute_conversations(app)
    assert shown["orders"] == ["1302"] and shown["customer"] == "meta@example.com"


@pytest.mark.parametrize("case", ["wrong secret", "stale timestamp", "missing header", "tampered body", "garbage"])
def test_a_bad_or_missing_signature_is_refused_and_changes_nothing(
        app: Flask, client: FlaskClient, fake_stripe: FakeStripe, case: str) -> None:
    event = stripe_event("evt_bad", "charge.dispute.created", stripe_dispute("dp_bad", CHARGE))
    raw = json.dumps(event).encode()
    before = counts(app)
    if case == "wrong secret":
        answer = post(client, body=raw, secret="whsec_other")
    elif case == "stale timestamp":
        answer = post(client, body=raw, at=int(time.time()) - 3600)
    elif case == "missing header":
        answer = post(client, body=raw, signature="")
    elif case == "tampered body":
        answer = post(client, body=raw.replace(b"dp_bad", b"dp_evil"), signature=signed(raw))
    else:
        answer = post(client, body=raw, signature="t=abc,v1=zz")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "bad_signature"
    assert counts(app) == before and fake_stripe.requests == []


def test_bad_input_with_a_good_signature_is_refused_clearly(app: Flask, client: FlaskClient) -> None:
    before = counts(app)
    assert post(client, body=b"not json").status_code == 400
    no_object = post(client, {"id": "evt_x", "type": "charge.dispute.created", "data": {}})
    assert no_object.status_code == 422 and no_object.get_json()["error"]["code"] == "invalid_payload"
    wrong_object = post(client, stripe_event("evt_y", "charge.dispute.created", {"id": "ch_1", "object": "charge"}))
    assert wrong_object.status_code == 422
    other = post(client, stripe_event("evt_o", "payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"}))
    assert other.status_code == 200 and other.get_json()["result"] == "ignored"
    assert counts(app) == before


def test_without_a_webhook_secret_the_route_says_so(app: Flask, client: FlaskClient) -> None:
    app.config["STRIPE_WEBHOOK_SECRET"] = None
    answer = post(client, stripe_event("evt_n", "charge.dispute.created", stripe_dispute()))
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_configured"


def test_the_order_card_shows_the_webhooks_dispute(app: Flask, client: FlaskClient, agent_client: FlaskClient,
                                                    order_1301: int, run_jobs: Any) -> None:
    post(client, stripe_event("evt_c", "charge.dispute.created", stripe_dispute("dp_c", CHARGE, amount=2935)))
    run_jobs()
    [shown] = dispute_conversations(app)
    with db_of(app).unit_of_work() as s:
        public = s.get(Conversation, shown["conversation"]).public_id
        assert s.get(Order, order_1301).payment_reference == CHARGE
    page = agent_client.get(f"/console/c/{public}").get_data(as_text=True)
    assert 'data-dispute="dp_c"' in page and "Dispute · needs response" in page and "$29.35" in page


def test_a_dispute_nobody_can_be_found_for_is_kept_and_its_job_says_why(
        app: Flask, client: FlaskClient, fake_stripe: FakeStripe, run_jobs: Any) -> None:
    fake_stripe.add_charge(stripe_charge("ch_anon", email=None, billing_details={"email": None, "name": None}))
    post(client, stripe_event("evt_anon", "charge.dispute.created", stripe_dispute("dp_anon", "ch_anon")))
    run_jobs()
    [shown] = dispute_conversations(app)
    assert (shown["dispute"], shown["conversation"]) == ("dp_anon", None)
    with db_of(app).unit_of_work() as s:
        job = s.scalar(select(Job).filter_by(kind="payments.stripe_dispute"))
        assert job.state == "dead" and "no order or billing email" in (job.last_error or "")


def test_a_refund_made_in_stripe_queues_a_fresh_fetch_of_the_orders_payment(
        app: Flask, client: FlaskClient, fake_stripe: FakeStripe, order_1301: int, run_jobs: Any) -> None:
    from tests.payments.fakes import stripe_refund
    from tests.payments.test_fetch_stripe import payment_of

    assert payment_of(app, order_1301)[0].refunds == []  # type: ignore[union-attr]
    fake_stripe.refunds.append(stripe_refund("re_dash", CHARGE, 1000))
    charge = {**fake_stripe.charges[CHARGE], "amount_refunded": 1000}
    fake_stripe.charges[CHARGE] = charge
    answer = post(client, stripe_event("evt_r", "charge.refunded", charge))
    assert answer.get_json()["result"] == "fetching"
    assert run_jobs() == 1
    payment = payment_of(app, order_1301)[0]
    assert payment is not None and [r["id"] for r in payment.refunds] == ["re_dash"]
    stranger = post(client, stripe_event("evt_s", "charge.refunded", stripe_charge("ch_unknown")))
    assert stranger.get_json()["result"] == "ignored"
