"""The agent's side: the request's card in the conversation, one click that carries it out through
the order actions against the Shopify fake, decline with a reason, and the shopper told."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.orders.models import ActionStatus, OrderAction
from helpdesk.orders.shopify import ShopifyConnector
from helpdesk.selfservice.models import SelfServiceRequest, Status
from helpdesk.tickets.models import AuthorType, Inbox, Message
from tests.chat.conftest import Clients, received
from tests.orders.actions_helpers import store
from tests.orders.conftest import SHOP
from tests.orders.fakes import FakeShopify, serving
from tests.orders.test_actions_shopify import TOKEN, small_order
from tests.selfservice.test_widget_requests import ask, verified

W = "/widget"


def shipped(order_id: int = 820982911, number: int = 1100) -> dict[str, Any]:
    order = small_order(order_id, fulfillment_status="fulfilled", order_number=number, name=f"#{number}",
                        fulfillments=[{"id": 1, "status": "success", "tracking_company": "DHL",
                                       "tracking_number": "JD0140", "created_at": "2026-01-02T09:00:00Z"}])
    order["line_items"][0]["quantity"] = 2  # two mugs of 35.00
    order["total_price"] = "115.00"
    return order


@pytest.fixture
def shop(app: Flask) -> Iterator[FakeShopify]:
    unfulfilled = small_order(820982912, order_number=1101, name="#1101")
    fake = FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=[shipped(), unfulfilled])
    with serving(fake):
        app.config.update(SHOPIFY_ACCESS_TOKEN=TOKEN, SHOPIFY_API_URL=f"{fake.url}/admin/api/2025-01",
                          ORDER_LOOKUP_RATE="100/minute")
        for payload in fake.orders:
            store(app, ShopifyConnector(SHOP, ""), payload)
        yield fake


def request_from_widget(app: Flask, clients: Clients, inbox: Inbox, site: str, event: str,
                        data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    ann = verified(clients, inbox, site)
    orders = {o["name"]: o["id"] for o in ask(ann, "orders:list")["orders"]}
    answer = ask(ann, event, {"order_id": orders[data.pop("order")], **data})
    assert answer["ok"] is True, answer
    return ann, answer


def card_of(html: str) -> str:
    block = re.search(r'<div class="ss-card.*?</details>|<div class="ss-card.*?</dl>', html, re.S)
    assert block, "no self-service card"
    return block.group(0)


def dialog_fields(html: str, dialog_id: str) -> dict[str, str]:
    block = re.search(rf'<dialog id="{dialog_id}".*?</dialog>', html, re.S)
    assert block, f"no dialog {dialog_id}"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', block.group(0)))


def one_click(html: str) -> tuple[str, str, dict[str, Any]]:
    """What the card's button does in the browser: which dialog, which form target, which prefill."""
    button = re.search(r'data-open-dialog="([^"]+)"\s+data-ss-action="([^"]+)" data-ss-prefill="([^"]+)"', html)
    assert button, "no one-click button"
    import html as html_lib
    import json
    return button.group(1), html_lib.unescape(button.group(2)), json.loads(html_lib.unescape(button.group(3)))


def shopper_lines(client: Any) -> list[tuple[str, str]]:
    return [(m["author"]["type"], m["body"]) for m in received(client, "message:new", W)]


def test_agent_carries_out_a_return_in_one_click_and_the_shopper_is_told(
        app: Flask, clients: Clients, inbox: Inbox, site: str, shop: FakeShopify, agent_client: FlaskClient,
        run_jobs: Any) -> None:
    ann, answer = request_from_widget(app, clients, inbox, site, "selfservice:return",
                                      {"order": "#1100", "items": [{"id": "1001", "quantity": 2}],
                                       "reason": "damaged", "note": "Both handles broke"})
    conv = answer["message"]["conversation_id"]
    page = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    card = card_of(page)
    for text in ("Return request", "Order #1100", "2\u00d7", "Mug", "$70.00", "Arrived damaged", "Both handles broke",
                 "Waiting for you", "Refund 2 items &amp; restock…", "Decline…"):
        assert text in card, text
    dialog, action, prefill = one_click(card)
    assert prefill == {"mode": "lines", "lines": {"1001": 2}, "restock": True}
    # The same card alone, for a conversation page that sees the request arrive live.
    fragment = agent_client.get(f"/console/c/{conv}/self-service/{answer['request']['id']}/card")
    assert fragment.status_code == 200 and "Return request" in fragment.get_data(as_text=True)
    assert agent_client.get(f"/console/c/{conv}/self-service/ss_unknown/card").status_code == 404
    # The existing refund dialog of the order card, confirmed as the browser sends it once filled in.
    form = {**dialog_fields(page, dialog), "mode": "lines", "line_1001": "on", "qty_1001": "2", "restock": "on"}
    assert agent_client.post(action, data=form).status_code == 303
    assert agent_client.post(action, data=form).status_code == 303  # a double click: one action
    run_jobs()
    [refund] = [r for r in shop.writes() if r.path.endswith("/refunds.json")]
    body = refund.body["refund"]
    assert body["refund_line_items"] == [{"line_item_id": 1001, "quantity": 2, "restock_type": "return"}]
    assert sum(float(t["amount"]) for t in body["transactions"]) == 70.0  # the shop's own calculation
    with db_of(app).sessions() as s:
        [done] = s.scalars(select(OrderAction)).all()
        assert done.status is ActionStatus.done and not done.notify_customer
        req = s.scalar(select(SelfServiceRequest).filter_by(public_id=answer["request"]["id"]))
        assert req.status is Status.done and req.handled_by_name and req.order_action_id == done.id
        told = s.scalar(select(Message).filter_by(client_msg_id=f"selfservice-outcome:{req.public_id}"))
        assert told.author_type is AuthorType.system and not told.private
    assert ("system", "Your return of 2 \u00d7 Mug from order #1100 is accepted: we have refunded 70.00 USD. "
            "It can take a few days to reach your account.") in shopper_lines(ann)
    page = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    assert "ss-card ss-done" in page and "the customer was told" in page and "Refund 2 items" not in page


def test_agent_cancels_an_unfulfilled_order_on_request(
        app: Flask, clients: Clients, inbox: Inbox, site: str, shop: FakeShopify, agent_client: FlaskClient,
        run_jobs: Any) -> None:
    ann, answer = request_from_widget(app, clients, inbox, site, "selfservice:cancel", {"order": "#1101"})
    conv = answer["message"]["conversation_id"]
    page = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    assert "Cancellation request" in card_of(page) and "Cancel order &amp; refund…" in card_of(page)
    dialog, action, prefill = one_click(card_of(page))
    assert dialog.startswith("dlg-cancel-") and prefill == {"restock": True, "refund": True}
    agent_client.post(action, data={**dialog_fields(page, dialog), "refund": "on", "restock": "on"})
    run_jobs()
    [cancel] = [r for r in shop.writes() if r.path.endswith("/cancel.json")]
    assert cancel.body["restock"] is True and cancel.body["amount"] == "80.00"
    assert ("system", "Your order #1101 is cancelled and 80.00 USD is refunded.") in shopper_lines(ann)


def test_a_refused_refund_goes_back_to_the_agent_with_the_shops_message(
        app: Flask, clients: Clients, inbox: Inbox, site: str, shop: FakeShopify, agent_client: FlaskClient,
        run_jobs: Any) -> None:
    ann, answer = request_from_widget(app, clients, inbox, site, "selfservice:return",
                                      {"order": "#1100", "items": [{"id": "1001", "quantity": 1}], "reason": "damaged"})
    conv = answer["message"]["conversation_id"]
    shop.gateway_balance = 10.0
    page = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    dialog, action, _prefill = one_click(card_of(page))
    form = {"mode": "lines", "line_1001": "on", "qty_1001": "1", "restock": "on"}
    agent_client.post(action, data={**dialog_fields(page, dialog), **form})
    run_jobs()
    with db_of(app).sessions() as s:
        req = s.scalar(select(SelfServiceRequest).filter_by(public_id=answer["request"]["id"]))
        assert req.status is Status.requested and "insufficient funds" in (req.error or "")
    page = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    assert "The shop refused" in card_of(page) and "insufficient funds" in card_of(page)
    assert not any(t == "system" for t, _ in shopper_lines(ann))  # nothing told while nothing was done
    shop.gateway_balance = None
    dialog, action, _prefill = one_click(card_of(page))  # still offered; the new page has a fresh key
    agent_client.post(action, data={**dialog_fields(page, dialog), **form})
    run_jobs()
    assert ("system", "Your return of 1 \u00d7 Mug from order #1100 is accepted: we have refunded 35.00 USD. "
            "It can take a few days to reach your account.") in shopper_lines(ann)


def test_decline_tells_the_shopper_why_and_the_request_cannot_be_carried_out_after(
        app: Flask, clients: Clients, inbox: Inbox, site: str, shop: FakeShopify, agent_client: FlaskClient,
        run_jobs: Any) -> None:
    ann, answer = request_from_widget(app, clients, inbox, site, "selfservice:return",
                                      {"order": "#1100", "items": [{"id": "1002", "quantity": 1}],
                                       "reason": "changed_mind"})
    conv = answer["message"]["conversation_id"]
    page = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    decline = re.search(r'<form method="post" action="([^"]+/decline)"', page).group(1)
    csrf = dialog_fields(page, one_click(card_of(page))[0])["csrf_token"]
    assert "say why" in agent_client.post(decline, data={"csrf_token": csrf, "reason": " "},
                                          follow_redirects=True).get_data(as_text=True)
    agent_client.post(decline, data={"csrf_token": csrf, "reason": "Cups are final sale"})
    assert ("agent", "We can't accept the return of order #1100: Cups are final sale") in shopper_lines(ann)
    _dialog, action, _prefill = one_click(card_of(page))
    again = agent_client.post(action, data={"csrf_token": csrf, "idempotency_key": "k2"}, follow_redirects=True)
    assert "this request is declined already" in again.get_data(as_text=True)
    run_jobs()
    assert shop.writes() == []  # nothing reached the shop
    page = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    assert "Declined: Cups are final sale" in page


def test_the_request_card_speaks_the_agents_language(
        app: Flask, clients: Clients, inbox: Inbox, site: str, shop: FakeShopify, agent_client: FlaskClient) -> None:
    _ann, answer = request_from_widget(app, clients, inbox, site, "selfservice:return",
                                       {"order": "#1100", "items": [{"id": "1001", "quantity": 2}],
                                        "reason": "damaged", "note": "Both handles broke"})
    page = agent_client.get(f"/console/c/{answer['message']['conversation_id']}", headers={"Accept-Language": "de"})
    card = card_of(page.get_data(as_text=True))
    for text in ("Rücksendeanfrage", "Bestellung #1100", "Beschädigt angekommen", "Wartet auf Sie",
                 "2 Artikel erstatten &amp; zurück ins Lager…", "Ablehnen…", "Warenwert"):
        assert text in card, text
    assert "Return request" not in card
