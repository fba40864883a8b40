"""Demo data for `helpdesk demo`, and the demo shop page that embeds the widget."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, render_template
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM, agent_actor, customer_actor
from helpdesk.crm import services as crm
from helpdesk.db import utcnow
from helpdesk.tickets import canned
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Channel

bp = Blueprint("demo", __name__)

DEMO_SITE_KEY = "demo"
DEMO_PASSWORD = "demo"

CUSTOMERS = [
    ("Ann Lee", "ann@example.com"),
    ("Bruno Costa", "bruno@example.net"),
    ("Chloé Martin", "chloe@example.org"),
    ("Dev Patel", "dev@example.com"),
    ("Eva Novak", "eva@example.net"),
]

# (customer index, channel, subject, status, messages as (who, text)); who: c customer, a agent, n note
CONVERSATIONS: list[tuple[int, str, str, str, list[tuple[str, str]]]] = [
    (0, "chat", "Where is my order #1001?", "open", [
        ("c", "Hi! I ordered the linen shirt last week, order #1001. Any news?"),
        ("a", "Hi Ann, let me check that for you right away."),
        ("n", "Carrier shows a delay at the depot; offer free shipping next time."),
    ]),
    (1, "email", "Return label for the blue sneakers", "open", [
        ("c", "Hello, the sneakers are too small. Can I get a return label please?"),
    ]),
    (2, "chat", "Can I change the delivery address?", "pending", [
        ("c", "Bonjour, can I still change the delivery address of my order?"),
        ("a", "Yes, as long as it has not shipped. Which address should we use?"),
    ]),
    (3, "email", "Invoice with company VAT number", "open", [
        ("c", "Could you send the invoice for order 1004 with our VAT number DE123456789?"),
    ]),
    (4, "chat", "Discount code not accepted", "resolved", [
        ("c", "The code WELCOME10 says it is invalid."),
        ("a", "Sorry about that, it expired yesterday. I've applied 10% to your cart manually."),
        ("c", "Perfect, thank you!"),
    ]),
    (0, "email", "Gift wrapping", "resolved", [
        ("c", "Do you offer gift wrapping?"),
        ("a", "We do: tick 'gift' at checkout, it's free."),
    ]),
]


CANNED = [
    ("hello", "Greeting", "Hi {{ customer.first_name }}, thanks for reaching out! Let me look into this for you."),
    ("shipping", "Shipping times", "Hi {{ customer.first_name }}, orders ship within 2 working days and arrive "
                                   "in 3-5 days. You get a tracking link by email as soon as it leaves us."),
    ("returns", "Returns", "You can return anything within 30 days for free: start at shop.example/returns "
                           "and print the label. Refunds arrive 3-5 days after we receive the parcel."),
]


def seed(app: Flask) -> None:
    with db_of(app).unit_of_work() as session:
        if session.scalar(select(Agent).limit(1)):
            return
        admin = accounts.create_agent(session, SYSTEM, email="admin@example.com", password=DEMO_PASSWORD,
                                      name="Alex Admin", role="admin", password_policy=False)
        manager = accounts.create_agent(session, SYSTEM, email="manager@example.com",
                                        password=DEMO_PASSWORD, name="Maya Manager", role="manager",
                                        password_policy=False)
        agent = accounts.create_agent(session, SYSTEM, email="agent@example.com", password=DEMO_PASSWORD,
                                      name="Sam Support", role="agent", password_policy=False)
        second = accounts.create_agent(session, SYSTEM, email="lena@example.com", password=DEMO_PASSWORD,
                                       name="Lena Ortiz", role="agent", password_policy=False)
        team = tickets.create_team(session, SYSTEM, name="Front line", members=[agent, second])
        chat, _ = tickets.create_inbox(session, SYSTEM, name="Web chat", channel="chat", team=team)
        chat.site_key = DEMO_SITE_KEY
        chat.members = [agent, second, manager]
        email_inbox, _ = tickets.create_inbox(session, SYSTEM, name="Support email", channel="email",
                                              address="support@shop.example", team=team)
        email_inbox.members = [agent, second]
        inboxes = {Channel.chat.value: chat, Channel.email.value: email_inbox}
        _seed_service_levels(session)
        customers = [crm.customer_for_email(session, SYSTEM, email, name) for name, email in CUSTOMERS]
        now = utcnow()
        for n, (who, channel, subject, status, lines) in enumerate(CONVERSATIONS):
            customer = customers[who]
            conv = tickets.create_conversation(session, customer_actor(customer), inbox=inboxes[channel],
                                               customer=customer, subject=subject)
            started = now - timedelta(hours=5 * (len(CONVERSATIONS) - n), minutes=7 * n)
            conv.created_at = started
            responded = False
            for step, (kind, text) in enumerate(lines):
                author = customer_actor(customer) if kind == "c" else agent_actor(agent)
                message = tickets.post_message(session, author, conv, body=text, private=kind == "n")
                # Spread the demo history over time, as a real day in the inbox looks.
                message.created_at = started + timedelta(minutes=4 * step)
                if not message.private:
                    conv.last_activity_at = message.created_at
                if kind == "a" and not responded:
                    conv.first_response_at, responded = message.created_at, True
            if any(kind == "a" for kind, _ in lines):
                tickets.assign(session, SYSTEM, conv, agent)
            tickets.set_status(session, SYSTEM, conv, status)
        for shortcut, title, body in CANNED:
            canned.save_canned_reply(session, agent_actor(manager), shortcut=shortcut, title=title, body=body)
        from helpdesk.demo_history import seed_history
        from helpdesk.orders.demo import seed_orders

        seed_history(session, [chat, email_inbox], [agent, second])
        seed_orders(session)  # the messages' order numbers are linked after this commit
        _ = admin
    _history_was_sent(app)


def _seed_service_levels(session: Any) -> None:
    """Shop hours and two policies, so the demo queue shows SLA countdowns and breaches."""
    from helpdesk.tickets.sla import services as sla

    hours = sla.create_business_hours(
        session, SYSTEM, name="Shop hours", timezone="Europe/Berlin",
        hours={**{d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}, "sat": [["10:00", "14:00"]]},
        holidays=["2026-12-24", "2026-12-25", "2026-12-26", "2027-01-01"])
    sla.create_policy(session, SYSTEM, {"name": "Urgent", "match": {"priority": ["high", "urgent"]},
                                        "targets": {"first_response_minutes": 30, "next_response_minutes": 60,
                                                    "resolution_minutes": 480}})
    sla.create_policy(session, SYSTEM, {"name": "Standard", "business_hours": hours.public_id,
                                        "targets": {"first_response_minutes": 120, "next_response_minutes": 240,
                                                    "resolution_minutes": 2880}})


def _history_was_sent(app: Flask) -> None:
    """The demo has no mail server: its made-up past mails (replies, surveys) count as sent, not failed."""
    from helpdesk.jobs import Job, JobState
    from helpdesk.tickets.models import Delivery, Message

    with db_of(app).unit_of_work() as session:
        for job in session.scalars(select(Job).where(Job.state == JobState.queued, Job.kind.in_(
                ["email.send", "email.csat_survey", "csat.send"]))):
            job.state, job.finished_at = JobState.done, utcnow()
            if job.kind == "email.send" and (message := session.get(Message, int(job.payload["message_id"]))):
                message.delivery = Delivery.sent


@bp.get("/demo/shop")
def shop() -> Any:
    return render_template("demo/shop.html", site_key=DEMO_SITE_KEY)
