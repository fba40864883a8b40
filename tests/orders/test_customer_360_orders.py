"""The customer 360 (page and API) shows the shop's figures, counting customers merged into it."""

import re

from flask import Flask
from flask.testing import FlaskClient

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM, agent_actor
from helpdesk.crm import services as crm
from helpdesk.customers360 import services as c360
from tests.orders.conftest import make_order


def test_360_api_and_page_show_lifetime_value_count_and_average_across_a_merge(
        app: Flask, client: FlaskClient, agent: Agent, agent_client: FlaskClient) -> None:
    make_order(app, 1001, "ann@example.com", total_price="100.00")
    make_order(app, 1002, "ann.work@example.com", total_price="50.00")
    with db_of(app).unit_of_work() as s:
        ann = crm.find_by_identity(s, crm.IdentityKind.email, "ann@example.com")
        work = crm.find_by_identity(s, crm.IdentityKind.email, "ann.work@example.com")
        c360.merge(s, agent_actor(s.get(Agent, agent.id)), ann, work)
        token = accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id))
        ann_id = ann.public_id
    view = client.get(f"/api/v1/customers/{ann_id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    orders = view["orders"]
    assert (orders["order_count"], orders["lifetime_value"], orders["average_order_value"], orders["currency"]) == (
        2, "150.00", "75.00", "USD")
    assert {o["number"] for o in orders["items"]} == {"1001", "1002"}
    page = agent_client.get(f"/console/customers/{ann_id}").get_data(as_text=True)
    assert "#1002" in page
    # Once, with its currency (issue 15: it was shown twice, once as a bare number).
    assert page.lower().count("lifetime value") == 1
    # The shop's domain as it is spelt, outside the capitalised pill.
    assert re.search(r'<span class="id-provider small muted">shopify:shop-example\.myshopify\.com</span>', page)
    assert '<div class="stat-n" data-stat="lifetime-value">$150.00</div>' in page
    assert '<div class="stat-n" data-stat="average-order">$75.00</div>' in page
