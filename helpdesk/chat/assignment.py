"""Who answers a new chat: the inbox's queue, a claim, or round-robin among online agents."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM, Actor
from helpdesk.errors import Conflict, Forbidden
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Inbox, Status

OPEN_STATUSES = (Status.open, Status.pending)
_CURSOR = "round_robin_last_agent"  # kept in Inbox.settings: one value does not deserve a column


def claim(session: Session, actor: Actor, conversation: Conversation) -> Conversation:
    """Take a conversation from the queue; one already taken by a colleague stays theirs."""
    if not actor.is_agent:
        raise Forbidden("only agents claim conversations")
    if conversation.assignee_id == actor.id:
        return conversation
    if conversation.assignee_id is not None:
        raise Conflict(f"{conversation.assignee.name} already has this conversation", code="already_claimed")
    agent = session.get(Agent, actor.id)
    return tickets.assign(session, actor, conversation, agent)


def open_counts(session: Session, agent_ids: Collection[int]) -> dict[int, int]:
    rows = session.execute(
        select(Conversation.assignee_id, func.count()).where(
            Conversation.assignee_id.in_(list(agent_ids)), Conversation.status.in_(OPEN_STATUSES))
        .group_by(Conversation.assignee_id))
    counts = dict.fromkeys(agent_ids, 0)
    counts.update({agent_id: n for agent_id, n in rows})
    return counts


def pick_agent(session: Session, conversation: Conversation,
               online_agent_ids: Collection[int]) -> Agent | None:
    """The next online member of the inbox after the last one served, skipping anyone at the limit."""
    inbox = conversation.inbox
    candidates = sorted((a for a in inbox.members if a.active and a.id in online_agent_ids),
                        key=lambda a: a.id)
    if not candidates:
        return None
    limit = inbox.max_open_per_agent or 0
    if limit > 0:
        counts = open_counts(session, [a.id for a in candidates])
        candidates = [a for a in candidates if counts[a.id] < limit]
        if not candidates:
            return None
    last = (inbox.settings or {}).get(_CURSOR)
    after = [a for a in candidates if last is not None and a.id > last]
    return after[0] if after else candidates[0]


def route_new(session: Session, conversation: Conversation,
              online_agent_ids: Collection[int]) -> Agent | None:
    """A new chat stays in the queue unless the inbox hands chats out round-robin."""
    inbox = conversation.inbox
    if not inbox.auto_assign:
        return None
    # Processes routing chats of one inbox at the same moment take turns on its row (PostgreSQL;
    # SQLite's writers queue anyway), so each reads the cursor the previous one moved.
    session.scalars(select(Inbox).where(Inbox.id == inbox.id).with_for_update()
                    .execution_options(populate_existing=True)).one()
    agent = pick_agent(session, conversation, online_agent_ids)
    if agent is None:
        return None
    inbox.settings = {**(inbox.settings or {}), _CURSOR: agent.id}
    tickets.assign(session, SYSTEM, conversation, agent)
    return agent
