"""Four weeks of past conversations for the demo, so the reports have something to show."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM, agent_actor, customer_actor
from helpdesk.crm import services as crm
from helpdesk.db import utcnow
from helpdesk.tickets import csat
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Inbox

TOPICS = [
    ("Where is my order?", "Hi, my parcel hasn't arrived yet. Can you check?", "It left our warehouse yesterday; "
     "here is the tracking link."),
    ("Exchange for a larger size", "The shirt is too small, can I get an L instead?", "Of course: I've sent you "
     "a free return label, the L ships as soon as it's scanned."),
    ("Discount code not working", "WELCOME10 says invalid at checkout.", "Sorry! I've applied 10% to your "
     "order by hand."),
    ("Damaged item", "The vase arrived broken.", "I'm so sorry. A replacement is on its way, no need to "
     "send the broken one back."),
    ("Change delivery address", "I moved, can you change the address?", "Done, the carrier has the new "
     "address."),
    ("Invoice request", "Could I get an invoice with my company name?", "Attached to this conversation, "
     "with your company name and VAT number."),
]
FIRST_NAMES = ["Alma", "Ben", "Carla", "Dario", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jon", "Kaito", "Lou"]
COMMENTS = {1: "Nobody answered for two days.", 2: "Slow, and I had to explain twice.", 3: "OK in the end.",
            4: "Quick answer, thanks.", 5: "Lovely service, thank you!"}


def seed_history(session: Session, inboxes: list[Inbox], agents: list[Agent], days: int = 28,
                 per_day: int = 4, seed: int = 7) -> int:
    """Resolved conversations spread over the last `days` days, with answers and CSAT scores."""
    rng = random.Random(seed)
    now = utcnow()
    made = 0
    for day in range(days, 0, -1):
        for n in range(rng.randint(per_day - 2, per_day + 2)):
            first = rng.choice(FIRST_NAMES)
            customer = crm.customer_for_email(session, SYSTEM, f"{first.lower()}.{day}.{n}@example.net",
                                              f"{first} {rng.choice('KLMNPRST')}.")
            inbox, agent = rng.choice(inboxes), rng.choice(agents)
            subject, question, answer = rng.choice(TOPICS)
            started = now - timedelta(days=day, hours=rng.randint(0, 9), minutes=rng.randint(0, 59))
            conv = tickets.create_conversation(session, customer_actor(customer), inbox=inbox, customer=customer,
                                               subject=subject)
            conv.created_at = started
            _say(session, customer_actor(customer), conv, question, started)
            # Lena is quicker than Sam: the reports should show a difference worth looking at.
            wait = rng.randint(2, 40) if agent.name.startswith("Lena") else rng.randint(10, 240)
            replied = started + timedelta(minutes=wait)
            _say(session, agent_actor(agent), conv, answer, replied)
            conv.first_response_at = replied
            tickets.assign(session, SYSTEM, conv, agent)
            tickets.set_status(session, SYSTEM, conv, "resolved")
            conv.resolved_at = replied + timedelta(minutes=rng.randint(5, 600))
            survey = csat.create_survey(session, conv)
            if survey is not None:
                survey.sent_at = conv.resolved_at
                if rng.random() < 0.7:  # not everyone answers the survey
                    score = rng.choices([5, 4, 3, 2, 1], weights=[50, 25, 10, 8, 7])[0]
                    csat.submit_score(session, customer_actor(customer), survey, score,
                                      COMMENTS[score] if rng.random() < 0.5 else "")
                    survey.first_answered_at = survey.answered_at = conv.resolved_at
            made += 1
    return made


def _say(session: Session, actor: object, conv: Conversation, text: str, when: datetime) -> None:
    message = tickets.post_message(session, actor, conv, body=text)  # type: ignore[arg-type]
    message.created_at = when
    conv.last_activity_at = when
