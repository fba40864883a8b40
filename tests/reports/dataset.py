"""A hand-made period whose every figure is worked out by hand in test_figures.py.

Period: 1 to 3 March 2026 (UTC). Times are written as (day of March, "HH:MM").

conv  channel  assignee  team  created       1st reply  resolved   replies      survey (agent, sent, score)
c1    chat     Alice     T1    1st 09:00     +60 s      1st 10:00  2 (+1 note)  Alice, 1st 10:00, 5
c2    chat     Alice     T1    1st 12:00     +120 s     2nd 12:00  1            Alice, 2nd 12:00, 2 "=..."
c3    email    Bob       -     2nd 08:00     +600 s     2nd 09:00  3            Bob, 2nd 09:00, 4
c4    email    Bob       -     2nd 10:00     +1800 s    open       1            -
c5    chat     -         -     3rd 15:00     -          open       0            -
c6    email    Alice     -     Feb 28 10:00  +300 s     1st 08:00  1            Bob (then), 1st 08:00, none
c7    chat     Bob       -     Feb 27 10:00  -          open       0            -
c8    email    Bob       -     4th 10:00     -          open       0            -
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent, Role
from helpdesk.crm.models import Customer
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import AuthorType, Channel, Conversation, Inbox, Message, Status, Team


def at(day: int, hhmm: str, month: int = 3) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, month, day, h, m, tzinfo=UTC)


@dataclass
class Dataset:
    alice: Agent
    bob: Agent
    team: Team
    chat: Inbox
    mail: Inbox
    conversations: dict[str, Conversation]


def build(session: Session) -> Dataset:
    alice = Agent(email="alice.r@example.com", name="Alice", password_hash="x", role=Role.agent)
    bob = Agent(email="bob.r@example.com", name="Bob", password_hash="x", role=Role.agent)
    team = Team(name="T1", members=[alice])
    chat = Inbox(name="Chat", channel=Channel.chat, settings={})
    mail = Inbox(name="Mail", channel=Channel.email, settings={})
    customer = Customer(name="Ann", email="ann@example.com")
    session.add_all([alice, bob, team, chat, mail, customer])
    session.flush()

    convs: dict[str, Conversation] = {}

    def conv(name: str, inbox: Inbox, assignee: Agent | None, team_: Team | None, created: datetime,
             first: int | None, resolved: datetime | None, replies: int, subject: str = "") -> Conversation:
        c = Conversation(ref=name.upper() + "XXXX", inbox=inbox, customer=customer, channel=inbox.channel,
                         status=Status.resolved if resolved else Status.open, assignee=assignee, team=team_,
                         subject=subject or f"Question {name}", created_at=created, updated_at=created,
                         last_activity_at=created, resolved_at=resolved,
                         first_response_at=created + timedelta(seconds=first) if first is not None else None)
        session.add(c)
        seq = 1
        session.add(Message(conversation=c, seq=seq, author_type=AuthorType.customer, author_id=customer.id,
                            body_text="Hello", created_at=created))
        for i in range(replies):
            seq += 1
            session.add(Message(conversation=c, seq=seq, author_type=AuthorType.agent,
                                author_id=assignee.id if assignee else None, body_text=f"Reply {i}",
                                created_at=created + timedelta(seconds=(first or 0) + i)))
        c.last_seq = seq
        convs[name] = c
        return c

    c1 = conv("c1", chat, alice, team, at(1, "09:00"), 60, at(1, "10:00"), 2)
    session.add(Message(conversation=c1, seq=9, author_type=AuthorType.agent, author_id=alice.id,
                        private=True, body_text="internal note: not a reply", created_at=at(1, "09:30")))
    c2 = conv("c2", chat, alice, team, at(1, "12:00"), 120, at(2, "12:00"), 1)
    c3 = conv("c3", mail, bob, None, at(2, "08:00"), 600, at(2, "09:00"), 3)
    conv("c4", mail, bob, None, at(2, "10:00"), 1800, None, 1)
    conv("c5", chat, None, None, at(3, "15:00"), None, None, 0)
    c6 = conv("c6", mail, alice, None, at(28, "10:00", month=2), 300, at(1, "08:00"), 1)
    conv("c7", chat, bob, None, at(27, "10:00", month=2), None, None, 0)
    conv("c8", mail, bob, None, at(4, "10:00"), None, None, 0)
    session.flush()

    def survey(c: Conversation, agent: Agent, team_: Team | None, sent: datetime, score: int | None,
               comment: str = "") -> None:
        session.add(CsatSurvey(conversation=c, inbox_id=c.inbox_id, agent_id=agent.id,
                               team_id=team_.id if team_ else None, channel=c.channel, question="How?",
                               nonce="n" + c.ref, sent_at=sent, expires_at=sent + timedelta(days=7),
                               score=score, comment=comment,
                               first_answered_at=sent + timedelta(minutes=5) if score else None,
                               answered_at=sent + timedelta(minutes=5) if score else None))

    survey(c1, alice, team, at(1, "10:00"), 5)
    survey(c2, alice, team, at(2, "12:00"), 2, "=HYPERLINK(\"http://evil\") Too slow")
    survey(c3, bob, None, at(2, "09:00"), 4)
    survey(c6, bob, None, at(1, "08:00"), None)  # c6 was Bob's when resolved; reassigned to Alice later
    session.flush()
    return Dataset(alice, bob, team, chat, mail, convs)
