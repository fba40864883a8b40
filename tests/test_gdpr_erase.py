"""Issue 12 finding 8: a GDPR erase leaves nothing of the customer anywhere: raw mails (body, card
number, attachment), orders' email and address, audit values, the automatic-mail log, CSAT comments,
chat sessions and uploads. Checked by scanning every text, JSON and binary column of every table."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import JSON, LargeBinary, String, Text, select

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.actors import SYSTEM, customer_actor
from helpdesk.chat import attachments as chat_attachments
from helpdesk.chat import visitors
from helpdesk.crm import services as crm
from helpdesk.errors import Unauthorized
from helpdesk.models import metadata
from helpdesk.orders import services as orders
from helpdesk.orders.connector import FulfillmentData, OrderData
from helpdesk.orders.models import Order
from helpdesk.tickets import csat
from helpdesk.tickets import services as tickets
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.email.models import AutoMail, InboundMail
from helpdesk.tickets.models import Conversation, Inbox, Message
from tests.conftest import login
from tests.email.conftest import SUPPORT, post_raw
from tests.factories import make_inbox

CARD = "4111 1111 1111 1111"
SECRETS = ["ann@example.com", CARD, "ATTACHED-SECRET-RECEIPT", "Ann Buyer", "12 Hidden Lane", "TRACK-SECRET-77",
           "CSAT-SECRET-COMMENT", "UPLOAD-SECRET-BYTES", "Ann Renamed", "+442079460000"]


def multipart_mail() -> bytes:
    attachment = base64.b64encode(b"ATTACHED-SECRET-RECEIPT for Ann").decode()
    return (
        "From: Ann Buyer <ann@example.com>\r\n"
        f"To: {SUPPORT}\r\nSubject: Refund please\r\nMessage-ID: <gdpr-1@example.com>\r\n"
        "Date: Sat, 28 Nov 2026 06:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Please refund to my card {CARD}.\r\n"
        '--b1\r\nContent-Type: text/plain; name="receipt.txt"\r\nContent-Disposition: attachment; '
        'filename="receipt.txt"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{attachment}\r\n--b1--\r\n"
    ).encode()


def leftovers(app: Flask, needles: list[str]) -> list[str]:
    """Every (table.column, needle) where a stored value still holds a needle (case-insensitive)."""
    found = []
    with db_of(app).sessions() as s:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON | LargeBinary)]
            if not columns:
                continue
            for row in s.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    found += [f"{table.name}.{column.name}: {n}" for n in needles if n.lower() in text.lower()]
    return found


def files_holding(folder: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in folder.rglob("*") if folder.exists() else []:
        if path.is_file() and not path.name.endswith((".sqlite", ".sqlite-wal", ".sqlite-shm")):
            data = path.read_bytes().decode("utf-8", "replace").lower()
            hits += [f"{path}: {n}" for n in needles if n.lower() in data]
    return hits


def seed(app: Flask, client: Any) -> dict[str, Any]:
    _email_inbox, token = make_inbox(app, name="Support mail", channel="email", address=SUPPORT)
    chat_inbox, _site = make_inbox(app, name="Web chat", channel="chat")
    answer = post_raw(client, multipart_mail(), token)
    assert answer.status_code == 202, answer.get_json()
    conversation_id = answer.get_json()["conversation_id"]
    database = db_of(app)
    with database.unit_of_work() as s:
        conversation = s.scalar(select(Conversation).filter_by(public_id=conversation_id))
        ann = conversation.customer
        crm.update_customer(s, SYSTEM, ann, name="Ann Renamed", phone="+44 20 7946 0000")
        now = datetime(2026, 11, 1, tzinfo=UTC)
        orders.upsert_order(s, SYSTEM, OrderData(
            platform="shopify", shop="shop.example", order_id="501", number="1001", name="#1001",
            placed_at=now, updated_at=now, total=Decimal("20.00"), currency="EUR", email="ann@example.com",
            shipping_address={"name": "Ann Buyer", "address1": "12 Hidden Lane"},
            fulfillments=[FulfillmentData(external_id="f1", tracking_number="TRACK-SECRET-77")]))
        s.add(AutoMail(address="ann@example.com", kind="acknowledgement"))
        conversation.status = conversation.status.__class__("resolved")
        survey = csat.create_survey(s, conversation)
        csat.submit_score(s, customer_actor(ann), survey, 2, "CSAT-SECRET-COMMENT from Ann Buyer")
        inbox = s.merge(chat_inbox)
        signature = hmac.new(inbox.secret.encode(), b"ann@example.com", hashlib.sha256).hexdigest()
        started = visitors.start(s, inbox, None, {"email": "ann@example.com", "hmac": signature})
        chat_attachments.store_upload(s, started.visitor, filename="note.txt", data=b"UPLOAD-SECRET-BYTES",
                                      max_bytes=10_000)
        # Bob's mail copied Ann: his conversation keeps his text, but not her address in its headers.
        bob = crm.customer_for_email(s, SYSTEM, "bob@example.com", "Bob")
        tickets.create_conversation(s, customer_actor(bob), inbox=s.merge(_email_inbox), customer=bob,
                                    subject="Bob asks", body="Bob's own words",
                                    meta={"email": {"from": "bob@example.com", "cc": ["ann@example.com"]}})
        failed = InboundMail(transport="raw", raw=b"From: ann@example.com\r\n\r\nbroken " + CARD.encode(),
                             size=60, sender="ann@example.com", subject="x", status="failed")
        s.add(failed)
        s.flush()
        return {"customer": ann.public_id, "conversation": conversation_id, "token": started.token,
                "failed_mail": failed.public_id, "site": inbox.site_key}


def test_erase_leaves_no_trace_of_the_customer_in_any_table_or_file(
        app: Flask, client: Any, manager: Any, admin: Any) -> None:
    seeded = seed(app, client)
    before = leftovers(app, SECRETS)
    assert {hit.rsplit(": ", 1)[1] for hit in before} == set(SECRETS)  # the scan finds what the seed wrote
    with db_of(app).unit_of_work() as s:
        raw_ids = [m.public_id for m in s.scalars(select(InboundMail))]
        token = accounts.create_api_token(s, SYSTEM, s.merge(manager), "gdpr")
    answer = client.post(f"/api/v1/customers/{seeded['customer']}/erase",
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.get_json()

    assert leftovers(app, SECRETS) == []
    assert files_holding(Path(app.instance_path), SECRETS) == []
    # Admin → Inbound mail serves none of the raw mails any more.
    admin_http = app.test_client()
    assert login(admin_http, admin.email).status_code == 302
    for public_id in raw_ids:
        assert admin_http.get(f"/admin/mail/{public_id}/raw").status_code == 404
    assert "Refund please" not in admin_http.get("/admin/mail").get_data(as_text=True)
    # The widget token of the erased shopper opens nothing.
    with db_of(app).unit_of_work() as s:
        chat = s.scalar(select(Inbox).filter_by(site_key=seeded["site"]))
        with pytest.raises(Unauthorized) as refused:
            visitors.start(s, chat, seeded["token"])
        assert refused.value.code == "invalid_token"
    # The figures keep the order and the score, without the person.
    with db_of(app).sessions() as s:
        order = s.scalar(select(Order))
        assert order.total == Decimal("20.00") and order.email is None and order.shipping_address == {}
        assert s.scalar(select(CsatSurvey)).score == 2
        bobs = s.scalar(select(Message).filter_by(body_text="Bob's own words"))
        assert bobs is not None and bobs.meta["email"] == {"from": "bob@example.com", "cc": ["[erased]"]}
