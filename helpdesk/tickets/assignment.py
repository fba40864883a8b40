"""Who gets a conversation outside chat's live routing: email round-robin with per-agent
capacity, and the first agent reply taking an unassigned conversation.

Chat keeps its own routing among online agents (helpdesk/chat/assignment.py); this module reads
only the database (inbox members, their open counts), so it works in any process.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent, Role
from helpdesk.accounts.services import audit, require
from helpdesk.actors import SYSTEM, Actor, agent_actor
from helpdesk.errors import Invalid
from helpdesk.runtime import Runtime
from helpdesk.tickets import services
from helpdesk.tickets.events import ConversationCreated, MessagePosted
from helpdesk.tickets.models import Channel, Conversation, Inbox, Message, Status

OPEN_STATUSES = (Status.open, Status.pending)
CURSOR = "email_round_robin_last_agent"  # in Inbox.settings, beside chat's own cursor


def open_counts(session: Session, agent_ids: Collection[int]) -> dict[int, int]:
    counts = dict.fromkeys(agent_ids, 0)
    rows = session.execute(select(Conversation.assignee_id, func.count())
                           .where(Conversation.assignee_id.in_(list(agent_ids)),
                                  Conversation.status.in_(OPEN_STATUSES))
                           .group_by(Conversation.assignee_id))
    counts.update({agent_id: n for agent_id, n in rows})
    return counts


def next_agent(session: Session, inbox: Inbox) -> Agent | None:
    """The active member after the last one served, skipping anyone at the inbox's capacity."""
    candidates = sorted((a for a in inbox.members if a.active), key=lambda a: a.id)
    limit = inbox.max_open_per_agent or 0
    if candidates and limit > 0:
        counts = open_counts(session, [a.id for a in candidates])
        candidates = [a for a in candidates if counts[a.id] < limit]
    if not candidates:
        return None  # everyone is full: the conversation waits in the queue
    last = (inbox.settings or {}).get(CURSOR)
    after = [a for a in candidates if last is not None and a.id > last]
    return after[0] if after else candidates[0]


def route_email(session: Session, ev: ConversationCreated) -> None:
    """In the creating transaction: an email inbox that hands work out gives the new one away."""
    if ev.channel != Channel.email.value:
        return
    conversation = session.get(Conversation, ev.conversation_id)
    if conversation is None or conversation.assignee_id is not None or not conversation.inbox.auto_assign:
        return
    inbox = conversation.inbox
    # Lock the inbox row (PostgreSQL) so two mails arriving at once do not both pick the same agent.
    session.execute(select(Inbox.id).where(Inbox.id == inbox.id).with_for_update())
    session.refresh(inbox, ["settings"])
    agent = next_agent(session, inbox)
    if agent is None:
        return
    inbox.settings = {**(inbox.settings or {}), CURSOR: agent.id}
    services.assign(session, SYSTEM, conversation, agent)


def take_on_reply(session: Session, ev: MessagePosted) -> None:
    """The first public reply of an agent on an unassigned conversation makes it theirs."""
    if ev.private or ev.author_type != "agent":
        return
    message = session.get(Message, ev.message_id)
    if message is None or message.author_id is None:
        return
    conversation = message.conversation
    if conversation.assignee_id is not None or not conversation.inbox.assign_on_reply:
        return
    agent = session.get(Agent, message.author_id)
    if agent is None or not agent.active:
        return
    services.assign(session, agent_actor(agent), conversation, agent)


def init_app(runtime: Runtime) -> None:
    runtime.events.subscribe_in_transaction(ConversationCreated, route_email)
    runtime.events.subscribe_in_transaction(MessagePosted, take_on_reply)


MAX_CAPACITY = 100


def configure(session: Session, actor: Actor, inbox: Inbox, *, assign_on_reply: bool,
              auto_assign: bool | None = None, max_open_per_agent: object = None,
              members: list[Agent] | None = None) -> Inbox:
    """An inbox's assignment settings (admins). Chat's round-robin is set on its chat settings page;
    here an email inbox gets its own, and every inbox the first-reply rule."""
    require(actor, Role.admin)
    before = {"assign_on_reply": inbox.assign_on_reply, "auto_assign": inbox.auto_assign,
              "max_open_per_agent": inbox.max_open_per_agent}
    if max_open_per_agent is not None:
        try:
            limit = int(max_open_per_agent)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise Invalid("max_open_per_agent", "a whole number") from None
        if not 0 <= limit <= MAX_CAPACITY:
            raise Invalid("max_open_per_agent", f"0 (no limit) to {MAX_CAPACITY}")
        inbox.max_open_per_agent = limit
    if auto_assign is not None:
        inbox.auto_assign = auto_assign
    if members is not None:
        inbox.members = members
    inbox.assign_on_reply = assign_on_reply
    session.flush()
    after = {"assign_on_reply": inbox.assign_on_reply, "auto_assign": inbox.auto_assign,
             "max_open_per_agent": inbox.max_open_per_agent}
    audit(session, actor, "inbox.assignment", "inbox", inbox.public_id,
          changes={k: [before[k], after[k]] for k in after if before[k] != after[k]},
          members=[a.email for a in inbox.members])
    return inbox
