"""Shared pieces of the order-action tests: an API client per role, orders stored through the
real services, the worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.orders import services
from helpdesk.orders.connector import Connector
from helpdesk.orders.models import Order


def api_for(app: Flask, client: FlaskClient, agent: Agent) -> Callable[..., Any]:
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "tests")

    def call(method: str, path: str, key: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}", **({"Idempotency-Key": key} if key else {})}
        return getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)
    return call


def store(app: Flask, conn: Connector, payload: Any) -> str:
    with db_of(app).unit_of_work() as s:
        order, _ = services.upsert_order(s, SYSTEM, conn.parse_order(payload))
        return order.public_id


def order_row(app: Flask, public_id: str) -> Order:
    with db_of(app).unit_of_work() as s:
        order = s.scalar(select(Order).filter_by(public_id=public_id))
        assert order is not None
        s.expunge(order)
        return order
