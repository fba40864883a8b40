"""Order actions on WooCommerce (REST v3 refunds, status, notes, send_order_details), BigCommerce
(V3 payment actions refund_quotes + refunds, V2 status) and Magento 2 (credit memos, cancel, the
order email), each against a fake on 127.0.0.1 speaking the platform's paths, JSON and errors."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk.accounts.models import Agent
from helpdesk.orders.bigcommerce import BigCommerceConnector
from helpdesk.orders.magento import MagentoConnector
from helpdesk.orders.woocommerce import WooCommerceConnector
from tests.factories import make_conversation, make_inbox
from tests.orders.actions_helpers import api_for, order_row, store
from tests.orders.fakes import (
    FakeBigCommerce,
    FakeMagento,
    FakeWooCommerce,
    bigcommerce_order,
    magento_order,
    serving,
    woo_order,
)
from tests.servers import wait_until


@pytest.fixture
def api(app: Flask, client: FlaskClient, agent: Agent) -> Callable[..., Any]:
    return api_for(app, client, agent)


def only_action(api: Any, order_id: str) -> dict[str, Any]:
    [action] = api("get", f"/orders/{order_id}/actions").get_json()["data"]
    return action


# --- WooCommerce --------------------------------------------------------------------------------

@pytest.fixture
def woo(app: Flask) -> Iterator[FakeWooCommerce]:
    basic = "Basic " + base64.b64encode(b"ck_test:cs_test").decode()
    fake = FakeWooCommerce(credentials={"Authorization": basic}, orders=[woo_order()])
    with serving(fake):
        app.config.update(WOOCOMMERCE_URL=fake.url, WOOCOMMERCE_CONSUMER_KEY="ck_test",
                          WOOCOMMERCE_CONSUMER_SECRET="cs_test")
        yield fake


@pytest.fixture
def woo_id(app: Flask, woo: FakeWooCommerce) -> str:
    return store(app, WooCommerceConnector(woo.url, "", ""), woo.orders[0])


def test_woocommerce_refund_of_line_items_asks_the_gateway_and_restocks(app: Flask, api: Any, woo: FakeWooCommerce,
                                                                       woo_id: str, run_jobs: Any) -> None:
    answer = api("post", f"/orders/{woo_id}/actions", "w1", json={
        "type": "refund", "line_items": [{"id": "315", "quantity": 1}], "restock": True, "reason": "broken"})
    assert answer.status_code == 202 and answer.get_json()["amount"] == "3.00"
    run_jobs()
    [sent] = woo.writes()
    assert sent.path == "/wp-json/wc/v3/orders/727/refunds"
    assert sent.body == {"amount": "3.00", "reason": "broken", "api_refund": True, "api_restock": True,
                         "line_items": [{"id": 315, "quantity": 1, "refund_total": "3.00"}]}
    assert only_action(api, woo_id)["status"] == "done"
    assert order_row(app, woo_id).refunded_total == Decimal("3.00")


def test_woocommerce_gateway_refusal_fails_the_action_with_its_message(app: Flask, api: Any, woo: FakeWooCommerce,
                                                                      woo_id: str, run_jobs: Any) -> None:
    woo.gateway_error = "Stripe: Insufficient funds in the Stripe account."
    api("post", f"/orders/{woo_id}/actions", "w2", json={"type": "refund", "amount": "5"})
    run_jobs()
    action = only_action(api, woo_id)
    assert action["status"] == "failed" and "Insufficient funds" in action["error"]
    assert order_row(app, woo_id).refunded_total == Decimal("0")


def test_woocommerce_cancel_refunds_first_then_sets_the_status(app: Flask, client: FlaskClient, manager: Agent,
                                                              woo: FakeWooCommerce, woo_id: str,
                                                              run_jobs: Any) -> None:
    api = api_for(app, client, manager)
    api("post", f"/orders/{woo_id}/actions", "w3", json={"type": "cancel", "reason": "changed mind"})
    run_jobs()
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in woo.writes()] == [
        ("POST", "refunds"), ("PUT", "727"), ("POST", "notes")]
    assert woo.writes()[0].body["amount"] == "29.35"
    order = order_row(app, woo_id)
    assert order.cancelled and order.refunded_total == Decimal("29.35")


def test_woocommerce_address_and_resend(app: Flask, api: Any, woo: FakeWooCommerce, woo_id: str,
                                        run_jobs: Any) -> None:
    api("post", f"/orders/{woo_id}/actions", "w4", json={"type": "update_address", "address": {
        "first_name": "Ann", "address_1": "1 Rue Neuve", "city": "Lyon", "postcode": "69001", "country": "FR"}})
    api("post", f"/orders/{woo_id}/actions", "w5", json={"type": "resend_confirmation"})
    run_jobs()
    assert woo.orders[0]["shipping"]["address_1"] == "1 Rue Neuve" and woo.emails_sent == ["727"]
    assert {a["status"] for a in api("get", f"/orders/{woo_id}/actions").get_json()["data"]} == {"done"}


def test_woocommerce_reship_is_a_new_zero_price_order_of_the_same_products(app: Flask, api: Any,
                                                                           woo: FakeWooCommerce, woo_id: str,
                                                                           run_jobs: Any) -> None:
    woo.orders[0]["line_items"][1]["product_id"] = 22
    api("post", f"/orders/{woo_id}/actions", "w6", json={"type": "reship", "line_items": [{"id": "316"}],
                                                          "complete": True, "reason": "lost"})
    run_jobs()
    created, note = woo.writes()
    assert created.path == "/wp-json/wc/v3/orders" and created.body["status"] == "processing"
    assert created.body["line_items"] == [{"product_id": 22, "quantity": 1, "subtotal": "0.00", "total": "0.00",
                                           "variation_id": 23}]
    assert created.body["shipping_lines"][0]["total"] == "0.00"
    assert note.body == {"note": "Replacement order #1001 created: lost", "customer_note": False}
    assert only_action(api, woo_id)["summary"] == "Replacement order #1001 created at zero price"


# --- BigCommerce -------------------------------------------------------------------------------

@pytest.fixture
def bc(app: Flask) -> Iterator[FakeBigCommerce]:
    fake = FakeBigCommerce(credentials={"X-Auth-Token": "bc-token"}, orders={250: bigcommerce_order(250, status_id=11)},
                           products={250: [{"id": 31, "name": "Tee", "quantity": 2, "price_inc_tax": "20.0000",
                                            "sku": "TEE"}]})
    with serving(fake):
        app.config.update(BIGCOMMERCE_STORE_HASH="abc123", BIGCOMMERCE_ACCESS_TOKEN="bc-token",
                          BIGCOMMERCE_API_URL=fake.url)
        yield fake


@pytest.fixture
def bc_id(app: Flask, bc: FakeBigCommerce) -> str:
    conn = BigCommerceConnector("abc123", "")
    with_products = conn.parse_order(bc.orders[250], bc.products[250], [])
    from helpdesk import db_of
    from helpdesk.actors import SYSTEM
    from helpdesk.orders import services

    with db_of(app).unit_of_work() as s:
        return services.upsert_order(s, SYSTEM, with_products)[0].public_id


def test_bigcommerce_refund_quotes_then_refunds_through_the_quoted_provider(app: Flask, api: Any,
                                                                           bc: FakeBigCommerce, bc_id: str,
                                                                           run_jobs: Any) -> None:
    api("post", f"/orders/{bc_id}/actions", "b1", json={"type": "refund", "line_items": [{"id": "31", "quantity": 1}]})
    run_jobs()
    quote, refund = bc.writes()
    assert quote.path == "/stores/abc123/v3/orders/250/payment_actions/refund_quotes"
    assert quote.body == {"items": [{"item_type": "PRODUCT", "item_id": 31, "quantity": 1}]}
    assert refund.path.endswith("/payment_actions/refunds")
    assert refund.body["payments"] == [{"provider_id": "braintree", "amount": 20.0, "offline": False}]
    assert only_action(api, bc_id)["status"] == "done"
    assert order_row(app, bc_id).refunded_total == Decimal("20.00")


def test_bigcommerce_declined_refund_fails_and_nothing_changes(app: Flask, api: Any, bc: FakeBigCommerce,
                                                               bc_id: str, run_jobs: Any) -> None:
    bc.declined = True
    api("post", f"/orders/{bc_id}/actions", "b2", json={"type": "refund", "amount": "10"})
    run_jobs()
    action = only_action(api, bc_id)
    assert action["status"] == "failed" and "insufficient funds" in action["error"]
    assert order_row(app, bc_id).refunded_total == Decimal("0")


def test_bigcommerce_address_change_puts_the_shipping_address(app: Flask, api: Any, bc: FakeBigCommerce,
                                                               bc_id: str, run_jobs: Any) -> None:
    bc.addresses[250] = [{"id": 7, "first_name": "Dev", "street_1": "1 Old Rd", "city": "Austin", "zip": "78701",
                          "country": "United States", "country_iso2": "US"}]
    api("post", f"/orders/{bc_id}/actions", "b4", json={"type": "update_address", "address": {
        "first_name": "Dev", "address1": "9 New Ave", "city": "Boston", "zip": "02101", "country": "US"}})
    run_jobs()
    [put] = bc.writes()
    assert put.path == "/stores/abc123/v2/orders/250/shipping_addresses/7"
    assert put.body == {"first_name": "Dev", "street_1": "9 New Ave", "city": "Boston", "zip": "02101",
                        "country_iso2": "US"}
    assert bc.addresses[250][0]["street_1"] == "9 New Ave" and only_action(api, bc_id)["status"] == "done"


def test_bigcommerce_cannot_resend_the_confirmation(api: Any, bc: FakeBigCommerce, bc_id: str) -> None:
    answer = api("post", f"/orders/{bc_id}/actions", "b5", json={"type": "resend_confirmation"})
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "unsupported_action"
    assert bc.writes() == []


def _bc_reship_setup(bc: FakeBigCommerce) -> None:
    bc.products[250][0].update(product_id=77, product_options=[{
        "id": 5, "option_id": 19, "order_product_id": 31, "product_option_id": 112, "display_name": "Size",
        "display_value": "M", "value": "104", "type": "Multiple choice", "name": "Size1"}])
    bc.orders[250]["billing_address"].update(street_1="1 Main St", city="Austin", state="Texas", zip="78701",
                                             country="United States", country_iso2="US")
    bc.orders[250]["staff_notes"] = "VIP"
    bc.addresses[250] = [{"id": 7, "order_id": 250, "first_name": "Dev", "last_name": "Patel", "street_1": "5 Elm St",
                          "city": "Dallas", "zip": "75201", "country": "United States", "country_iso2": "US",
                          "email": "dev@example.com", "items_total": 2, "shipping_method": "Flat Rate"}]


def test_bigcommerce_reship_is_a_new_zero_price_order_with_a_note_on_the_original(
        app: Flask, api: Any, bc: FakeBigCommerce, bc_id: str, run_jobs: Any) -> None:
    _bc_reship_setup(bc)
    answer = api("post", f"/orders/{bc_id}/actions", "b6", json={
        "type": "reship", "line_items": [{"id": "31", "quantity": 1}], "complete": True, "reason": "lost"})
    assert answer.status_code == 202
    run_jobs()
    created, note = bc.writes()
    assert (created.method, created.path) == ("POST", "/stores/abc123/v2/orders")
    assert created.body == {
        "customer_id": 11,
        "billing_address": {"first_name": "Dev", "last_name": "Patel", "street_1": "1 Main St", "city": "Austin",
                            "state": "Texas", "zip": "78701", "country": "United States", "country_iso2": "US",
                            "email": "dev@example.com"},
        "products": [{"quantity": 1, "price_inc_tax": 0, "price_ex_tax": 0, "product_id": 77,
                      "product_options": [{"id": 112, "value": "104"}]}],
        "shipping_cost_inc_tax": 0, "shipping_cost_ex_tax": 0, "status_id": 11,
        "staff_notes": "Replacement for order #250: lost",
        "shipping_addresses": [{"first_name": "Dev", "last_name": "Patel", "street_1": "5 Elm St", "city": "Dallas",
                                "zip": "75201", "country": "United States", "country_iso2": "US",
                                "email": "dev@example.com"}]}
    assert (note.method, note.path) == ("PUT", "/stores/abc123/v2/orders/250")
    assert note.body == {"staff_notes": "VIP\nReplacement order #251 created: lost"}
    action = only_action(api, bc_id)
    assert action["status"] == "done" and action["summary"] == "Replacement order #251 created at zero price"
    assert bc.orders[251]["total_inc_tax"] == "0.0000" and bc.addresses[251][0]["city"] == "Dallas"


def test_bigcommerce_reship_refused_by_the_shop_fails_and_notes_nothing(app: Flask, api: Any, bc: FakeBigCommerce,
                                                                        bc_id: str, run_jobs: Any) -> None:
    _bc_reship_setup(bc)
    bc.stock[77] = 0
    api("post", f"/orders/{bc_id}/actions", "b7", json={"type": "reship"})
    run_jobs()
    action = only_action(api, bc_id)
    assert action["status"] == "failed" and "Product 77 is out of stock." in action["error"]
    assert [w.method for w in bc.writes()] == ["POST"]  # no staff note on the original
    assert list(bc.orders) == [250] and bc.orders[250]["staff_notes"] == "VIP"


def test_bigcommerce_reship_waits_out_a_429_and_makes_one_order(app: Flask, api: Any, bc: FakeBigCommerce,
                                                                bc_id: str, run_jobs: Any) -> None:
    _bc_reship_setup(bc)
    bc.throttle_writes, bc.retry_after = 1, "0"
    api("post", f"/orders/{bc_id}/actions", "b8", json={"type": "reship"})

    def finished() -> bool:
        run_jobs()
        return only_action(api, bc_id)["status"] != "pending"

    wait_until(finished, timeout=10)
    assert only_action(api, bc_id)["status"] == "done"
    assert list(bc.orders) == [250, 251]


def test_bigcommerce_reship_of_another_orders_line_sends_nothing(api: Any, bc: FakeBigCommerce, bc_id: str) -> None:
    answer = api("post", f"/orders/{bc_id}/actions", "b9", json={"type": "reship", "line_items": [{"id": "999"}]})
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "unknown_line_item"
    assert api("get", f"/orders/{bc_id}/actions").get_json()["data"] == [] and bc.writes() == []


def test_bigcommerce_cancel_without_refund_sets_status_cancelled(app: Flask, api: Any, bc: FakeBigCommerce,
                                                                 bc_id: str, run_jobs: Any) -> None:
    api("post", f"/orders/{bc_id}/actions", "b3", json={"type": "cancel", "refund": False})
    run_jobs()
    [put] = bc.writes()
    assert put.method == "PUT" and put.path == "/stores/abc123/v2/orders/250" and put.body == {"status_id": 5}
    assert order_row(app, bc_id).cancelled


# --- Magento -----------------------------------------------------------------------------------

@pytest.fixture
def mg(app: Flask) -> Iterator[FakeMagento]:
    fake = FakeMagento(credentials={"Authorization": "Bearer mg-token"}, orders=[magento_order(1)])
    with serving(fake):
        app.config.update(MAGENTO_URL=fake.url, MAGENTO_ACCESS_TOKEN="mg-token")
        yield fake


@pytest.fixture
def mg_id(app: Flask, mg: FakeMagento) -> str:
    return store(app, MagentoConnector(mg.url, ""), mg.orders[0])


def test_magento_refund_of_an_amount_is_an_adjustment_credit_memo(app: Flask, api: Any, mg: FakeMagento,
                                                                 mg_id: str, run_jobs: Any) -> None:
    api("post", f"/orders/{mg_id}/actions", "g1", json={"type": "refund", "amount": "19.00", "notify_customer": True})
    run_jobs()
    [memo] = mg.writes()
    assert memo.path == "/rest/V1/order/1/refund"
    assert memo.body["arguments"] == {"shipping_amount": 0.0, "adjustment_positive": 19.0} and memo.body["notify"]
    assert only_action(api, mg_id)["status"] == "done"
    assert order_row(app, mg_id).refunded_total == Decimal("19.00")


def test_magento_refund_of_items_with_restock(app: Flask, api: Any, client: FlaskClient, manager: Agent,
                                              mg: FakeMagento, mg_id: str, run_jobs: Any) -> None:
    api = api_for(app, client, manager)
    api("post", f"/orders/{mg_id}/actions", "g2", json={"type": "refund", "line_items": [{"id": "10"}],
                                                        "restock": True})
    run_jobs()
    [memo] = mg.writes()
    assert memo.body["items"] == [{"order_item_id": 10, "qty": 1}]
    assert memo.body["arguments"]["extension_attributes"] == {"return_to_stock_items": [10]}


def test_magento_refusal_message_has_its_parameters_filled_in(app: Flask, api: Any, mg: FakeMagento, mg_id: str,
                                                              run_jobs: Any) -> None:
    mg.orders[0]["total_refunded"] = 110.0  # refunded in the shop meanwhile; our copy does not know yet
    api("post", f"/orders/{mg_id}/actions", "g3", json={"type": "refund", "amount": "20"})
    run_jobs()
    action = only_action(api, mg_id)
    assert action["status"] == "failed" and "The most money available to refund is 9.00." in action["error"]


def test_magento_cancel_and_a_refused_cancel(app: Flask, api: Any, mg: FakeMagento, mg_id: str,
                                             run_jobs: Any) -> None:
    api("post", f"/orders/{mg_id}/actions", "g4", json={"type": "cancel", "refund": False})
    run_jobs()
    assert only_action(api, mg_id)["status"] == "done" and order_row(app, mg_id).cancelled
    mg.orders.append(magento_order(2, status="processing"))
    other = store(app, MagentoConnector(mg.url, ""), mg.orders[1])
    mg.orders[1]["status"] = "complete"  # shipped in the shop meanwhile
    api("post", f"/orders/{other}/actions", "g5", json={"type": "cancel", "refund": False})
    run_jobs()
    action = only_action(api, other)
    assert action["status"] == "failed" and "cannot be cancelled" in action["error"]


def test_magento_resend_confirmation(api: Any, mg: FakeMagento, mg_id: str, run_jobs: Any) -> None:
    api("post", f"/orders/{mg_id}/actions", "g6", json={"type": "resend_confirmation"})
    run_jobs()
    assert mg.emails_sent == ["1"]


def test_magento_cannot_reship(api: Any, mg: FakeMagento, mg_id: str) -> None:
    answer = api("post", f"/orders/{mg_id}/actions", "g7", json={"type": "reship"})
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "unsupported_action"
    assert mg.writes() == []


MG_ADDRESS = {"first_name": "Eva", "last_name": "Novak", "address1": "Karl-Marx-Allee 5", "city": "Berlin",
              "zip": "10178", "country": "DE", "phone": "+4930999"}


def test_magento_update_address_saves_the_order_address(app: Flask, api: Any, mg: FakeMagento, mg_id: str,
                                                        run_jobs: Any) -> None:
    answer = api("post", f"/orders/{mg_id}/actions", "g8", json={"type": "update_address", "address": MG_ADDRESS})
    assert answer.status_code == 202
    run_jobs()
    [put] = mg.writes()
    assert (put.method, put.path) == ("PUT", "/rest/V1/orders/1")
    assert put.body == {"entity": {
        "entity_id": 2, "parent_id": 1, "address_type": "shipping", "firstname": "Eva", "lastname": "Novak",
        "street": ["Karl-Marx-Allee 5"], "city": "Berlin", "postcode": "10178", "country_id": "DE",
        "region": "Berlin", "region_id": 82, "region_code": "BER", "telephone": "+4930999",
        "email": "eva@example.net", "customer_address_id": 3}}
    stored = mg.orders[0]["extension_attributes"]["shipping_assignments"][0]["shipping"]["address"]
    assert stored["street"] == ["Karl-Marx-Allee 5"] and stored["postcode"] == "10178"
    assert only_action(api, mg_id)["status"] == "done"


def test_magento_refused_address_fails_with_its_message_and_changes_nothing(app: Flask, api: Any, mg: FakeMagento,
                                                                           mg_id: str, run_jobs: Any) -> None:
    stored = mg.orders[0]["extension_attributes"]["shipping_assignments"][0]["shipping"]["address"]
    stored["telephone"] = None  # the shop asks for one, and neither the order nor the agent gives it
    before = dict(stored)
    api("post", f"/orders/{mg_id}/actions", "g9", json={"type": "update_address",
                                                        "address": {**MG_ADDRESS, "phone": ""}})
    run_jobs()
    action = only_action(api, mg_id)
    assert action["status"] == "failed" and '"telephone" is required. Enter and try again.' in action["error"]
    assert stored == before


def test_magento_address_change_after_shipment_or_without_country_sends_nothing(app: Flask, api: Any,
                                                                                mg: FakeMagento, mg_id: str,
                                                                                run_jobs: Any) -> None:
    answer = api("post", f"/orders/{mg_id}/actions", "g10", json={
        "type": "update_address", "address": {**MG_ADDRESS, "country": ""}})
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "invalid_address"
    shipped = magento_order(2)
    shipped["items"][0]["qty_shipped"] = 1  # still "processing": the items tell that it has shipped
    mg.orders.append(shipped)
    other = store(app, MagentoConnector(mg.url, ""), shipped)
    answer = api("post", f"/orders/{other}/actions", "g11", json={"type": "update_address", "address": MG_ADDRESS})
    assert answer.status_code == 409 and answer.get_json()["error"]["code"] == "already_fulfilled"
    mg.orders[0]["items"][0]["qty_shipped"] = 1  # shipped in the shop after our copy was taken
    api("post", f"/orders/{mg_id}/actions", "g12", json={"type": "update_address", "address": MG_ADDRESS})
    run_jobs()
    action = only_action(api, mg_id)
    assert action["status"] == "failed" and "has shipments" in action["error"]
    assert mg.writes() == []


def test_magento_order_keeps_its_shipping_address_for_the_dialog(app: Flask, mg_id: str) -> None:
    assert order_row(app, mg_id).shipping_address == {
        "first_name": "Eva", "last_name": "Novak", "address1": "Hauptstr. 1", "city": "Berlin", "province": "Berlin",
        "zip": "10115", "country": "DE", "phone": "+49301234"}


def _card(app: Flask, agent_client: FlaskClient, inbox: Any, email: str, number: str) -> str:
    conv = make_conversation(app, inbox, email=email, body=f"About order #{number}").public_id
    html = agent_client.get(f"/console/c/{conv}").get_data(as_text=True)
    return html.split('id="orders"')[1]


def test_sidebar_offers_what_each_platform_can_do(app: Flask, agent_client: FlaskClient, mg: FakeMagento,
                                                  mg_id: str, bc: FakeBigCommerce, bc_id: str) -> None:
    inbox = make_inbox(app)[0]
    card = _card(app, agent_client, inbox, "eva@example.net", "000000001")
    assert "Change address…" in card and "Resend confirmation…" in card and "Reship…" not in card
    assert 'name="address1" value="Hauptstr. 1"' in card and 'name="country" value="DE"' in card
    card = _card(app, agent_client, inbox, "dev@example.com", "250")
    assert "Reship…" in card and "Change address…" in card and "Resend confirmation…" not in card
