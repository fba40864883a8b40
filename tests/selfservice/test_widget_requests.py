"""Self-service from the widget over /widget: tracking, cancel and return requests by a verified
shopper or one who looked the order up, and every bad input refused with nothing stored."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.orders.models import ConversationOrder, LinkState
from helpdesk.selfservice.models import Kind, SelfServiceRequest, Status
from helpdesk.selfservice.services import REASONS
from helpdesk.tickets.models import Conversation, Inbox, Message
from tests.chat.conftest import Clients, received, session_of
from tests.selfservice.conftest import open_order, shipped_order

W = "/widget"
ANN = {"number": "1001", "email": "ann@example.com"}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "ORDER_LOOKUP_RATE": "8/minute"}


def verified(clients: Clients, inbox: Inbox, site: str, email: str = "ann@example.com") -> Any:
    sig = hmac.new(inbox.secret.encode(), email.encode(), hashlib.sha256).hexdigest()
    client = clients.widget({"site": site, "identity": {"email": email, "hmac": sig}})
    assert session_of(client)["visitor"]["verified"] is True
    return client


def ask(client: Any, event: str, data: Any = None) -> dict[str, Any]:
    return client.emit(event, data, namespace=W, callback=True)


def counts(app: Flask) -> tuple[int, int, int]:
    """(requests that need an agent, conversations, messages): what a refused request must not add."""
    with db_of(app).sessions() as s:
        return (s.scalar(select(func.count()).select_from(SelfServiceRequest)
                         .where(SelfServiceRequest.kind.in_((Kind.cancel, Kind.return_)))) or 0,
                s.scalar(select(func.count()).select_from(Conversation)) or 0,
                s.scalar(select(func.count()).select_from(Message)) or 0)


def refused(app: Flask, client: Any, event: str, data: Any, code: str) -> str:
    before = counts(app)
    answer = ask(client, event, data)
    assert answer["ok"] is False, answer
    assert answer["error"]["code"] == code, answer
    assert counts(app) == before
    return answer["error"]["message"]


def test_tracking_answers_from_stored_fulfilments_and_counts_once_a_day(
        app: Flask, clients: Clients, site: str) -> None:
    shipped_order(app)
    anonymous = clients.widget({"site": site})
    answer = ask(anonymous, "selfservice:track", ANN)
    assert answer["ok"] is True
    assert answer["order"]["stage"] == "shipped"
    [parcel] = answer["shipments"]
    assert parcel["carrier"] == "UPS" and parcel["tracking_number"] == "1Z2345E20312345678"
    # No link from the shop: the carrier's own page, built from the number.
    assert parcel["tracking_url"] == "https://www.ups.com/track?tracknum=1Z2345E20312345678"
    assert ask(anonymous, "selfservice:track", ANN)["ok"] is True
    with db_of(app).sessions() as s:
        rows = s.scalars(select(SelfServiceRequest)).all()
        assert [(r.kind, r.status) for r in rows] == [(Kind.track, Status.done)]  # asked twice, counted once
        assert s.scalar(select(func.count()).select_from(Conversation)) == 0  # no agent involved


def test_an_order_lookup_is_counted_for_deflection(app: Flask, clients: Clients, site: str) -> None:
    shipped_order(app)
    assert ask(clients.widget({"site": site}), "orders:lookup", ANN)["ok"] is True
    with db_of(app).sessions() as s:
        assert [r.kind for r in s.scalars(select(SelfServiceRequest))] == [Kind.lookup]


def test_verified_shopper_starts_a_return_and_it_lands_in_their_conversation(
        app: Flask, clients: Clients, inbox: Inbox, site: str) -> None:
    order_id = shipped_order(app)
    ann = verified(clients, inbox, site)
    options = ask(ann, "selfservice:options", {"order_id": order_id})
    assert options["returnable"] == {"1001": 2, "1002": 1}
    assert [r["code"] for r in options["reasons"]] == list(REASONS)
    answer = ask(ann, "selfservice:return", {"order_id": order_id, "items": [{"id": "1001", "quantity": 2}],
                                             "reason": "too_small", "note": "Fits like a child's size"})
    assert answer["ok"] is True, answer
    assert answer["request"]["kind"] == "return" and answer["request"]["status"] == "requested"
    assert answer["request"]["items"] == [{"id": "1001", "title": "Linen shirt", "quantity": 2}]
    message = answer["message"]
    assert message["author"]["type"] == "customer"
    assert message["body"].startswith(
        "I would like to return 2 \u00d7 Linen shirt from order #1001. Reason: Too small.")
    assert any(m["seq"] == message["seq"] for m in received(ann, "message:new", W))  # every tab of the shopper
    with db_of(app).sessions() as s:
        conv = s.scalar(select(Conversation).filter_by(public_id=message["conversation_id"]))
        link = s.scalar(select(ConversationOrder).filter_by(conversation_id=conv.id))
        assert link.state is LinkState.linked and link.source == "shopper" and link.order.public_id == order_id
        req = s.scalar(select(SelfServiceRequest).filter_by(kind=Kind.return_))
        assert (req.reason, req.note, req.conversation_id) == ("too_small", "Fits like a child's size", conv.id)
    # Those two are now in a return: the next request may have only what is left.
    assert ask(ann, "selfservice:options", {"order_id": order_id})["returnable"] == {"1001": 0, "1002": 1}
    message = refused(app, ann, "selfservice:return", {"order_id": order_id, "items": [{"id": "1001", "quantity": 1}],
                                                       "reason": "damaged"}, "quantity_too_high")
    assert "at most 0 of Linen shirt" in message and "2 are already being returned" in message


def test_a_request_goes_into_the_conversation_already_going(app: Flask, clients: Clients, inbox: Inbox,
                                                             site: str) -> None:
    order_id = open_order(app)
    ann = verified(clients, inbox, site)
    first = ask(ann, "message:send", {"client_msg_id": "c1", "body": "Hello"})["message"]
    answer = ask(ann, "selfservice:cancel", {"order_id": order_id})
    assert answer["ok"] is True, answer
    assert answer["message"]["conversation_id"] == first["conversation_id"]
    assert answer["message"]["body"] == "Please cancel my order #1002."
    again = ask(ann, "selfservice:cancel", {"order_id": order_id})  # a second tap: the same request
    assert again["request"]["id"] == answer["request"]["id"]
    assert counts(app)[0] == 1


def test_looked_up_shopper_asks_to_cancel_with_number_and_email(app: Flask, clients: Clients, site: str) -> None:
    open_order(app, 1002, "bob@example.com")
    anonymous = clients.widget({"site": site})
    answer = ask(anonymous, "selfservice:cancel",
                 {"number": "#1002", "email": "Bob@Example.com", "note": "Ordered twice"})
    assert answer["ok"] is True, answer
    assert answer["message"]["body"] == "Please cancel my order #1002.\n\nOrdered twice"
    with db_of(app).sessions() as s:
        assert s.scalar(select(ConversationOrder.state)) is LinkState.linked


def test_bad_requests_are_refused_clearly_and_store_nothing(app: Flask, clients: Clients, inbox: Inbox,
                                                            site: str) -> None:
    app.config["ORDER_LOOKUP_RATE"] = "100/minute"  # many tries here; the limit has its own test
    ann_shipped = shipped_order(app)
    ann_open = open_order(app)
    bobs = open_order(app, 1003, "bob@example.com")
    cancelled = open_order(app, 1004, cancelled_at="2026-11-22T10:00:00Z", cancel_reason="customer")
    ann = verified(clients, inbox, site)
    anonymous = clients.widget({"site": site})
    # Another shopper's order: by id (verified) or by a wrong email pair, it does not exist for them.
    refused(app, ann, "selfservice:cancel", {"order_id": bobs}, "not_found")
    refused(app, ann, "selfservice:track", {"order_id": bobs}, "not_found")
    refused(app, anonymous, "selfservice:cancel", {"number": "1003", "email": "ann@example.com"}, "not_found")
    # Only verified shoppers name orders by id.
    refused(app, anonymous, "selfservice:cancel", {"order_id": ann_open}, "not_verified")
    # A cancel of a fulfilled or cancelled order.
    assert "already shipped" in refused(app, ann, "selfservice:cancel", {"order_id": ann_shipped}, "already_fulfilled")
    refused(app, ann, "selfservice:cancel", {"order_id": cancelled}, "order_cancelled")
    # Returns: an item of another order, too many, a bad quantity, an unknown reason, nothing picked.
    item = {"order_id": ann_shipped, "reason": "damaged"}
    refused(app, ann, "selfservice:return", {**item, "items": [{"id": "9999", "quantity": 1}]}, "unknown_line_item")
    assert "(you bought 2)" in refused(app, ann, "selfservice:return",
                                       {**item, "items": [{"id": "1001", "quantity": 3}]}, "quantity_too_high")
    refused(app, ann, "selfservice:return", {**item, "items": [{"id": "1001", "quantity": 0}]}, "invalid_quantity")
    refused(app, ann, "selfservice:return", {**item, "items": [{"id": "1001", "quantity": "1"}]}, "invalid_quantity")
    refused(app, ann, "selfservice:return", {**item, "items": [{"id": "1001", "quantity": 1}] * 2}, "invalid_items")
    refused(app, ann, "selfservice:return", {**item, "items": []}, "invalid_items")
    refused(app, ann, "selfservice:return", {**item, "reason": "bored", "items": [{"id": "1001", "quantity": 1}]},
            "unknown_reason")
    refused(app, ann, "selfservice:return", {"order_id": ann_open, "reason": "damaged",
                                             "items": [{"id": "1001", "quantity": 1}]}, "not_fulfilled")
    refused(app, ann, "selfservice:return", {**item, "items": [{"id": "1001", "quantity": 1}], "note": "x" * 1001},
            "invalid_note")
    refused(app, ann, "selfservice:return", "not an object", "invalid_order")


def test_number_and_email_tries_share_the_lookup_limit(app: Flask, clients: Clients, site: str) -> None:
    shipped_order(app)
    anonymous = clients.widget({"site": site})
    for guess in range(2000, 2008):  # 8 a minute (app_config): lookups and self-service alike
        event = "orders:lookup" if guess % 2 else "selfservice:track"
        assert ask(anonymous, event, {"number": str(guess), "email": "ann@example.com"})["error"]["code"] == "not_found"
    assert ask(anonymous, "selfservice:track", ANN)["error"]["code"] == "rate_limited"
    assert ask(anonymous, "selfservice:cancel", ANN)["error"]["code"] == "rate_limited"


def test_a_gdpr_erase_takes_the_shoppers_words_from_their_requests(app: Flask, clients: Clients, inbox: Inbox,
                                                                   site: str) -> None:
    from helpdesk.actors import SYSTEM
    from helpdesk.crm.models import Customer
    from helpdesk.customers360 import erasure

    order_id = open_order(app)
    ann = verified(clients, inbox, site)
    assert ask(ann, "selfservice:cancel", {"order_id": order_id, "note": "Call me on 0170 555 1234"})["ok"]
    with db_of(app).unit_of_work() as s:
        erasure.erase(s, SYSTEM, s.scalar(select(Customer).filter_by(email="ann@example.com")))
    with db_of(app).sessions() as s:
        req = s.scalar(select(SelfServiceRequest))
        assert (req.kind, req.note, req.customer_id) == (Kind.cancel, None, None)  # still counted, nobody named


def test_the_widget_offers_every_reason_the_server_takes_in_english_and_german() -> None:
    import json
    import re
    from pathlib import Path

    static = Path(__file__).parents[2] / "helpdesk" / "static" / "widget"
    listed = re.search(r"var REASONS = \[([^\]]*)\]", (static / "frame-selfservice.js").read_text()).group(1)
    assert re.findall(r'"(\w+)"', listed) == list(REASONS)
    for lang in ("en", "de"):
        strings = json.loads((static / "locales" / f"{lang}.json").read_text(encoding="utf-8"))
        assert all(strings.get(f"ss_reason_{code}") for code in REASONS), lang
