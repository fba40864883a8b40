"""One customer, many identities: resolution, merge, split, erase, and the REST 360 view."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import AuditEntry
from helpdesk.actors import SYSTEM, agent_actor
from helpdesk.crm import services as crm
from helpdesk.crm.models import CrmContact, Customer, CustomerMerge, IdentityKind
from helpdesk.customers360 import services as c360
from helpdesk.errors import Conflict, Invalid
from helpdesk.tickets.models import Conversation, Message
from tests.factories import make_conversation, make_inbox


@pytest.fixture
def token(app: Flask, agent: Any) -> str:
    with db_of(app).unit_of_work() as s:
        return accounts.create_api_token(s, SYSTEM, s.merge(agent), "test")


def api(app: Flask, token: str, method: str, path: str, **kwargs: Any) -> Any:
    return getattr(app.test_client(), method)(
        f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs
    )


def test_email_phone_and_external_id_resolve_to_one_customer(app: Flask) -> None:
    with db_of(app).unit_of_work() as s:
        first = crm.identify(s, SYSTEM, email="Ann@Example.com", name="Ann")
        by_phone = crm.identify(s, SYSTEM, email="ann@example.com", phone="+49 30 1234-56")
        by_external = crm.identify(s, SYSTEM, phone="+4930123456", external=("shopify:shop.example", "991"))
        again = crm.identify(s, SYSTEM, external=("shopify:shop.example", "991"))
        assert first.id == by_phone.id == by_external.id == again.id
        kinds = sorted((i.kind.value, i.value) for i in first.identities)
        assert kinds == [("email", "ann@example.com"), ("external", "991"), ("phone", "+4930123456")]
        with pytest.raises(Invalid):
            crm.identify(s, SYSTEM, phone="not a phone")


def merge_setup(app: Flask) -> tuple[Any, Any, Any]:
    inbox, _ = make_inbox(app)
    a = make_conversation(app, inbox, email="ann@example.com", name="Ann Lee", subject="Tent")
    b = make_conversation(app, inbox, email="ann.lee@work.example", subject="Invoice")
    return inbox, a, b


def test_merge_moves_identities_conversations_and_notes_and_is_audited(app: Flask, agent: Any) -> None:
    _, a, b = merge_setup(app)
    actor = agent_actor(agent)
    with db_of(app).unit_of_work() as s:
        target, source = s.get(Customer, a.customer_id), s.get(Customer, b.customer_id)
        crm.add_note(s, actor, source, "Prefers email")
        record = c360.merge(s, actor, target, source)
        assert record.moved["conversations"] == [b.id]
    with db_of(app).unit_of_work() as s:
        target = s.get(Customer, a.customer_id)
        assert sorted(i.value for i in target.identities) == ["ann.lee@work.example", "ann@example.com"]
        assert s.get(Conversation, b.id).customer_id == target.id
        assert (
            crm.get_customer(s, s.get(Customer, b.customer_id).public_id).id == target.id
        )  # old id resolves
        assert [n.body for n in crm.notes_of(s, target)] == ["Prefers email"]
        assert crm.find_by_identity(s, IdentityKind.email, "ann.lee@work.example").id == target.id
        entry = s.scalar(select(AuditEntry).filter_by(action="customer.merge"))
        assert entry.actor_name == agent.name and entry.target_id == target.public_id


def test_splitting_a_merged_identity_gives_it_and_its_conversations_back(app: Flask, agent: Any) -> None:
    _, a, b = merge_setup(app)
    actor = agent_actor(agent)
    with db_of(app).unit_of_work() as s:
        c360.merge(s, actor, s.get(Customer, a.customer_id), s.get(Customer, b.customer_id))
    with db_of(app).unit_of_work() as s:
        record = c360.split(s, actor, s.get(Customer, a.customer_id), "email:ann.lee@work.example")
        assert record.target_id == b.customer_id, "the customer it came from is revived"
    with db_of(app).unit_of_work() as s:
        revived = s.get(Customer, b.customer_id)
        assert revived.merged_into_id is None and revived.email == "ann.lee@work.example"
        assert s.get(Conversation, b.id).customer_id == revived.id
        assert s.get(Conversation, a.id).customer_id == a.customer_id
        assert [m.action for m in s.scalars(select(CustomerMerge).order_by(CustomerMerge.id))] == [
            "merge",
            "split",
        ]
        assert s.scalar(select(AuditEntry).filter_by(action="customer.split")) is not None


def test_bad_merges_and_splits_are_refused_and_change_nothing(app: Flask, agent: Any) -> None:
    _, a, _b = merge_setup(app)
    actor = agent_actor(agent)
    with db_of(app).unit_of_work() as s:
        customer = s.get(Customer, a.customer_id)
        with pytest.raises(Invalid):
            c360.merge(s, actor, customer, customer)
        with pytest.raises(Invalid):
            c360.split(s, actor, customer, "email:ann@example.com")  # its only identity
        with pytest.raises(Conflict):
            crm.update_customer(s, actor, customer, email="ann.lee@work.example")  # another customer's
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(CustomerMerge)) is None
        assert len(s.get(Customer, a.customer_id).identities) == 1


def test_api_360_view_has_identities_crm_fields_orders_place_conversations_and_notes(
    app: Flask, token: str
) -> None:
    _, a, _ = merge_setup(app)
    with db_of(app).unit_of_work() as s:
        s.add(
            CrmContact(
                provider="hubspot",
                external_id="1001",
                customer_id=a.customer_id,
                company="Acme",
                lifecycle="customer",
                owner="Olga Owner",
                url="https://app.hubspot.com/x",
                deals=[{"id": "9", "name": "Restock", "amount": "1200.00", "stage": "contractsent"}],
            )
        )
        public = s.get(Customer, a.customer_id).public_id
    assert (
        api(app, token, "patch", f"/customers/{public}", json={"note": "VIP, ships to Berlin"}).status_code
        == 200
    )
    data = api(app, token, "get", f"/customers/{public}").get_json()
    assert data["identities"][0]["key"] == "email:ann@example.com"
    assert data["crm"]["company"] == "Acme" and data["crm"]["deals"][0]["amount"] == "1200.00"
    assert data["crm"]["open_deal_value"] == "1200.00"
    assert data["orders"] == {
        "items": [],
        "order_count": 0,
        "lifetime_value": "0.00",
        "average_order_value": "0.00",
        "currency": None,
    }
    assert [(c["id"], c["channel"], c["status"], c["csat"]) for c in data["conversations"]] == [
        (a.public_id, "chat", "open", None)
    ]
    assert data["notes"][0]["body"] == "VIP, ships to Berlin"


def test_api_search_create_and_patch(app: Flask, token: str) -> None:
    merge_setup(app)
    found = api(app, token, "get", "/customers?email=ANN@example.com").get_json()
    assert [c["email"] for c in found["data"]] == ["ann@example.com"]
    assert len(api(app, token, "get", "/customers?q=work.example").get_json()["data"]) == 1
    created = api(
        app,
        token,
        "post",
        "/customers",
        json={"email": "zoe@example.com", "name": "Zoe", "phone": "+44 20 7946 0000"},
    )
    assert created.status_code == 201 and created.get_json()["phone"] == "+442079460000"
    taken = api(
        app, token, "patch", f"/customers/{created.get_json()['id']}", json={"email": "ann@example.com"}
    )
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "identity_taken"
    bad = api(app, token, "patch", f"/customers/{created.get_json()['id']}", json={"vip": True})
    assert bad.status_code == 422
    assert api(app, token, "post", "/customers", json={}).status_code == 422
    assert api(app, token, "get", "/customers/cu_nope").status_code == 404
    assert api(app, token, "get", "/customers?cursor=zz").status_code == 422


def test_export_and_gdpr_erase(app: Flask, token: str, manager: Any) -> None:
    _, a, _ = merge_setup(app)
    with db_of(app).unit_of_work() as s:
        public = s.get(Customer, a.customer_id).public_id
    export = api(app, token, "get", f"/customers/{public}/export")
    assert export.status_code == 200 and "attachment" in export.headers["Content-Disposition"]
    assert export.get_json()["conversations"][0]["messages"][0]["body"] == "Hello"
    refused = api(app, token, "post", f"/customers/{public}/erase")  # an agent may not erase
    assert refused.status_code == 403
    with db_of(app).unit_of_work() as s:
        manager_token = accounts.create_api_token(s, SYSTEM, s.merge(manager), "m")
    erased = api(app, manager_token, "post", f"/customers/{public}/erase")
    assert erased.status_code == 200
    body = erased.get_json()
    assert body["email"] is None and body["identities"] == [] and body["name"] == "Erased customer"
    with db_of(app).unit_of_work() as s:
        assert {m.body_text for m in s.scalars(select(Message))} <= {"[erased]", "Hello"}
        assert s.scalar(select(Message).filter_by(conversation_id=a.id)).body_text == "[erased]"
        assert crm.find_by_identity(s, IdentityKind.email, "ann@example.com") is None
