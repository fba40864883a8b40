"""The chat hot path asks the database only what delivery needs (issue 11: a message was twelve
statements, three of them asking whether rules, webhooks or SLA policies exist)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event, func, select

from helpdesk import db_of
from helpdesk.configured import Configured
from helpdesk.tickets.rules.models import AutomationRule
from tests.chat.conftest import Clients

W, C = "/widget", "/console"
CONFIG_TABLES = ("automation_rules", "outgoing_webhooks", "webhook_subscriptions", "sla_policies",
                 "conversation_sla")


def statements_of(app: Flask, send: Any) -> list[str]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        seen.append(statement)

    engine = db_of(app).engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        ack = send()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert ack["ok"], ack
    return seen


def test_a_chat_message_asks_nothing_of_unconfigured_rules_webhooks_or_slas(
    app: Flask, clients: Clients, site: str, agent: Any, logged_in: Any
) -> None:
    shopper = clients.widget({"site": site})
    conv = shopper.emit("message:send", {"client_msg_id": "q0", "body": "Where is it?"}, namespace=W,
                        callback=True)["message"]["conversation_id"]
    console = clients.console(logged_in(agent.email))
    console.emit("message:send", {"conversation_id": conv, "client_msg_id": "a0", "body": "Looking"},
                 namespace=C, callback=True)
    widget = statements_of(app, lambda: shopper.emit(
        "message:send", {"client_msg_id": "q1", "body": "Still waiting", "conversation_id": conv},
        namespace=W, callback=True))
    agent_side = statements_of(app, lambda: console.emit(
        "message:send", {"conversation_id": conv, "client_msg_id": "a1", "body": "On its way"},
        namespace=C, callback=True))
    for statements in (widget, agent_side):
        asked = [s for s in statements if any(f"FROM {t}" in s for t in CONFIG_TABLES)]
        assert asked == []
    # PostgreSQL also locks the conversation row and asks again for the client_msg_id under it.
    extra = 2 if db_of(app).dialect == "postgresql" else 0
    shown = "\n".join(" ".join(s.split())[:90] for s in [*widget, "--", *agent_side])
    # Each side: who is asking (visitor with its customer / agent), the conversation with its row's
    # relations, the client_msg_id look-up, the seq UPDATE, the INSERT, the shopper's browsers.
    assert len(widget) <= 6 + extra and len(agent_side) <= 6 + extra, shown
    assert not [s for s in widget if "chat_visitor_conversations.id" in s]  # its socket knows it started it


def test_a_rule_written_elsewhere_is_seen_within_the_ttl_and_one_written_here_at_once(app: Flask) -> None:
    now = [100.0]
    cache = Configured(ttl=2.0, clock=lambda: now[0])
    database = db_of(app)
    cache.watch(database.sessions, AutomationRule)

    def any_rule(session: Any) -> bool:
        return bool(session.scalar(select(func.count()).select_from(AutomationRule)))

    def ask() -> bool:
        with database.sessions() as s:
            return cache.has(s, "rules", any_rule)

    assert ask() is False
    with database.engine.begin() as conn:  # another process: no session of ours sees it
        conn.execute(AutomationRule.__table__.insert().values(
            name="Elsewhere", event="message.created", conditions=[], actions=[], active=True, position=1))
    assert ask() is False  # still the answer of a moment ago ...
    now[0] += 2.5
    assert ask() is True  # ... and no older than the TTL
    with database.unit_of_work() as s:
        s.query(AutomationRule).delete(synchronize_session=False)
        s.add(AutomationRule(name="Here", event="message.created", conditions=[], actions=[], active=True,
                             position=1))
    assert ask() is True
    now[0] += 0.5
    with database.unit_of_work() as s:
        for rule in s.scalars(select(AutomationRule)):
            s.delete(rule)
    assert ask() is False  # a commit of this process that wrote the table forgets at once


def test_finding_the_shoppers_browsers_of_a_message_does_not_walk_the_inbox(app: Flask) -> None:
    """Every message asks which browsers may see it. With an OR of "verified browsers of the customer"
    and "browsers that started it", SQLite answered from the inbox's index: every browser the shop's
    site ever had, per message. Each half must be its own index look-up."""
    from helpdesk.chat import visitors

    engine = db_of(app).engine
    compiled = visitors._VISITOR_IDS.compile(engine)
    params = compiled.construct_params({"inbox_id": 1, "customer_id": 2, "conversation_id": 3})
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            values = [params[name] for name in compiled.positiontup]
            plan = [r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), tuple(values))]
            visitors_steps = [step for step in plan if "chat_visitors " in step]
            assert visitors_steps and all("customer_id" in step for step in visitors_steps), plan
        else:  # an empty table's plan says nothing on PostgreSQL: the statement's shape does
            assert " UNION " in str(compiled) and " OR " not in str(compiled)
