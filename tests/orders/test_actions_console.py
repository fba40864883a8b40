"""Order actions from the conversation sidebar: buttons and dialogs on the order card, the form
post, the shop's refund calculation through the worker, the past actions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.orders.models import OrderAction
from helpdesk.orders.shopify import ShopifyConnector
from helpdesk.tickets.models import Message
from tests.factories import make_conversation, make_inbox
from tests.orders.actions_helpers import store
from tests.orders.conftest import SHOP
from tests.orders.fakes import FakeShopify, serving
from tests.orders.test_actions_shopify import TOKEN, small_order


@pytest.fixture
def shop(app: Flask) -> Iterator[FakeShopify]:
    fake = FakeShopify(credentials={"X-Shopify-Access-Token": TOKEN}, orders=[small_order()])
    with serving(fake):
        app.config.update(SHOPIFY_ACCESS_TOKEN=TOKEN, SHOPIFY_API_URL=f"{fake.url}/admin/api/2025-01")
        yield fake


@pytest.fixture
def conv(app: Flask, shop: FakeShopify) -> str:
    store(app, ShopifyConnector(SHOP, ""), shop.orders[0])
    return make_conversation(app, make_inbox(app)[0], email="ann@example.com", body="About order #1100").public_id


def dialog_form(html: str, kind: str) -> dict[str, str]:
    block = re.search(rf'<dialog id="dlg-{kind}-[^"]+".*?</dialog>', html, re.S)
    assert block, f"no {kind} dialog"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', block.group(0)))
    action = re.search(r'<form method="post" action="([^"]+)"', block.group(0))
    assert action
    return {"_action": action.group(1), **fields}


def test_card_offers_the_platforms_actions_and_a_refund_runs_from_the_dialog(
        app: Flask, agent_client: FlaskClient, conv: str, shop: FakeShopify, run_jobs: Any) -> None:
    html = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    for label in ("Refund…", "Cancel…", "Reship…", "Change address…", "Resend confirmation…"):
        assert label in html
    assert "order-actions.js" in html and "<script>" not in html.split('id="orders"')[1]
    form = dialog_form(html, "refund")
    url = form.pop("_action")
    posted = agent_client.post(url, data={**form, "mode": "amount", "amount": "12.50", "notify_customer": "on"})
    assert posted.status_code == 303
    again = agent_client.post(url, data={**form, "mode": "amount", "amount": "12.50"})  # a double click
    assert again.status_code == 303
    run_jobs()
    with db_of(app).unit_of_work() as s:
        [action] = s.scalars(select(OrderAction)).all()
        assert action.status.value == "done" and action.notify_customer
        bodies = [(m.private, m.body_text) for m in s.scalars(select(Message).order_by(Message.id))]
    assert (True, "Order #1100: Refunded 12.50 USD") in bodies
    assert any(not p and "refunded 12.50 USD" in b for p, b in bodies)
    page = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    assert "ord-action-done" in page and "Refunded 12.50 USD" in page


def test_a_refused_action_is_flashed_and_nothing_is_sent(app: Flask, agent_client: FlaskClient, conv: str,
                                                         shop: FakeShopify) -> None:
    form = dialog_form(agent_client.get(f"/console/c/{conv}").get_data(as_text=True), "refund")
    url = form.pop("_action")
    page = agent_client.post(url, data={**form, "mode": "amount", "amount": "500"}, follow_redirects=True)
    assert "more than the 80.00 USD left to refund" in page.get_data(as_text=True)
    app.config["REFUND_LIMIT_AGENT"] = "50"
    page = agent_client.post(url, data={**form, "mode": "whole"}, follow_redirects=True)
    assert "refunds above 50.00 USD need a manager" in page.get_data(as_text=True)
    assert shop.writes() == []


def test_refund_quote_is_fetched_by_the_worker(app: Flask, agent_client: FlaskClient, conv: str,
                                               shop: FakeShopify, run_jobs: Any) -> None:
    html = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    quote_url = re.search(r'data-quote-url="([^"]+)"', html).group(1)
    status_url = re.search(r'data-quote-status="([^"]+)"', html).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    asked = agent_client.post(quote_url, data={"csrf_token": token, "mode": "lines", "line_1001": "on",
                                               "qty_1001": "1", "shipping": "on"})
    assert asked.status_code == 202, asked.get_json()
    job, secret = asked.get_json()["job"], asked.get_json()["token"]
    poll = status_url.replace("/0", f"/{job}") + f"?token={secret}"
    assert agent_client.get(poll).get_json() == {"status": "pending"}
    run_jobs()
    assert agent_client.get(poll).get_json() == {"status": "done", "quote": {"amount": "45.00", "currency": "USD"},
                                                 "error": None}
    assert agent_client.get(status_url.replace("/0", f"/{job}") + "?token=wrong").status_code == 404
    assert [r.path.rsplit("/", 1)[-1] for r in shop.writes()] == ["calculate.json"]  # a quote refunds nothing
