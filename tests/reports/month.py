"""A busy, believable month (March 2026) for the browser test and the dashboard screenshots."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent, Role
from helpdesk.crm.models import Customer
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import AuthorType, Channel, Conversation, Inbox, Message, Status, Team

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 31
COMMENTS = {
    1: ["Nobody answered for two days.", "My parcel is still lost and nobody cares.", "Refund took forever."],
    2: ["Slow answers, had to ask twice.", "The agent did not read my message.", ""],
    3: ["", "Okay in the end."], 4: ["", "Quick and kind."],
    5: ["", "Perfect, thank you Jess!", "Super fast!"],
}


def build_month(session: Session, seed: int = 7) -> None:
    rnd = random.Random(seed)
    names = ["Jess Park", "Omar Haddad", "Lena Vogel", "Tom Becker", "Priya Nair"]
    agents = [Agent(email=f"{n.split()[0].lower()}@shop.example", name=n, password_hash="x",
                    role=Role.agent) for n in names]
    teams = [Team(name="Orders", members=agents[:3]), Team(name="Returns", members=agents[3:])]
    chat = Inbox(name="Shop chat", channel=Channel.chat, settings={})
    mail = Inbox(name="support@shop.example", channel=Channel.email, settings={})
    customers = [Customer(name=f"Customer {i}", email=f"c{i}@mail.example") for i in range(60)]
    session.add_all([*agents, *teams, chat, mail, *customers])
    session.flush()
    skill = [0.9, 0.7, 0.8, 0.55, 0.85]  # chance of a good score per agent
    n = 0
    for day in range(DAYS):
        weekday = (START + timedelta(days=day)).weekday()
        for _ in range(rnd.randint(4, 9) if weekday < 5 else rnd.randint(1, 4)):
            n += 1
            i = rnd.randrange(len(agents))
            inbox = chat if rnd.random() < 0.6 else mail
            created = START + timedelta(days=day, hours=rnd.uniform(7, 20))
            first = rnd.expovariate(1 / (240 if inbox is chat else 5400))
            resolved = created + timedelta(seconds=first + rnd.expovariate(1 / (3 * 3600)))
            is_resolved = resolved < START + timedelta(days=DAYS) and rnd.random() < 0.9
            conv = Conversation(
                ref=f"M{n:05d}", inbox=inbox, customer=customers[rnd.randrange(60)], channel=inbox.channel,
                status=Status.resolved if is_resolved else Status.open, assignee=agents[i],
                team=teams[0] if i < 3 else teams[1], subject=rnd.choice(
                    ["Where is my order?", "Wrong size delivered", "Refund status", "Discount code fails",
                     "Change delivery address"]),
                created_at=created, updated_at=created, last_activity_at=created,
                first_response_at=created + timedelta(seconds=first),
                resolved_at=resolved if is_resolved else None, last_seq=1)
            session.add(conv)
            session.add(Message(conversation=conv, seq=1, author_type=AuthorType.agent,
                                author_id=agents[i].id, body_text="Hi!",
                                created_at=created + timedelta(seconds=first)))
            if is_resolved and rnd.random() < 0.8:
                good = rnd.random() < skill[i]
                score = rnd.choice([4, 5, 5]) if good else rnd.choice([1, 2, 3])
                answered = rnd.random() < 0.7
                session.add(CsatSurvey(
                    conversation=conv, inbox_id=inbox.id, agent_id=agents[i].id, team_id=conv.team.id,
                    channel=inbox.channel, question="How did we do?", nonce=f"n{n}", sent_at=resolved,
                    expires_at=resolved + timedelta(days=7), score=score if answered else None,
                    comment=rnd.choice(COMMENTS[score]) if answered else "",
                    first_answered_at=resolved + timedelta(minutes=3) if answered else None,
                    answered_at=resolved + timedelta(minutes=3) if answered else None))
    session.flush()
