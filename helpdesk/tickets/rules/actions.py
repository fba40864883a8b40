"""Carrying out (or describing) rule and macro actions on one conversation, through the services.

The same code serves rules (actor: the rule, a system actor named after it) and macros (actor:
the agent who applied it), so a macro's reply is that agent's reply and a rule's changes carry
the rule's name in the audit log and on the conversation.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.accounts.models import Agent
from helpdesk.actors import Actor
from helpdesk.db import utcnow
from helpdesk.errors import Invalid
from helpdesk.tickets import canned, services
from helpdesk.tickets.models import Conversation, Team
from helpdesk.tickets.rules import webhook


def find_agent(session: Session, ref: Any) -> Agent | None:
    """By public id or email (never a row number: ids on the wire are public ids)."""
    ref = str(ref).strip()
    return session.scalar(select(Agent).where((Agent.public_id == ref) | (Agent.email == ref.lower())))


def find_team(session: Session, ref: Any) -> Team | None:
    ref = str(ref).strip()
    return session.scalar(select(Team).where((Team.public_id == ref) | (Team.name == ref)))


def check_targets(session: Session, actions: list[dict[str, Any]], settings: Mapping[str, Any]) -> None:
    """The agents and teams an action names exist (422 otherwise); webhook targets are public."""
    for i, action in enumerate(actions):
        if action["type"] == "assign_agent":
            agent = find_agent(session, action["value"])
            if agent is None or not agent.active:
                raise Invalid(f"actions[{i}]", "no such active agent", code="invalid_value")
        elif action["type"] == "assign_team" and find_team(session, action["value"]) is None:
            raise Invalid(f"actions[{i}]", "no such team", code="invalid_value")
        elif action["type"] == "webhook":
            webhook.check_literal(action["value"], settings)


def describe(session: Session, action: dict[str, Any]) -> str:
    """What the action does, in the words of the conversation's event line."""
    kind, value = action["type"], action["value"]
    if kind == "add_tag":
        return f"added tag {value}"
    if kind == "remove_tag":
        return f"removed tag {value}"
    if kind == "set_priority":
        return f"set priority to {value}"
    if kind == "set_status":
        return f"set status to {value}"
    if kind == "assign_agent":
        agent = find_agent(session, value)
        return f"assigned to {agent.name if agent else value}"
    if kind == "assign_team":
        team = find_team(session, value)
        return f"assigned to team {team.name if team else value}"
    if kind == "reply":
        return "replied to the customer"
    if kind == "note":
        return "added a note"
    return f"called the webhook {value}"


def apply(session: Session, actor: Actor, conversation: Conversation, actions: list[dict[str, Any]], *,
          signer_name: str, message_meta: dict[str, Any] | None = None, event: str = "macro.applied") -> list[str]:
    """Carry out each action; returns the descriptions of those that changed something.

    `signer_name` fills {{ agent.name }} in reply and note texts."""
    done: list[str] = []
    for action in actions:
        kind, value = action["type"], action["value"]
        if kind in ("add_tag", "remove_tag"):
            names = [t.name for t in conversation.tags]
            wanted = [*names, value] if kind == "add_tag" else [n for n in names if n != value]
            if wanted == names:
                continue
            services.set_tags(session, actor, conversation, wanted)
        elif kind == "set_priority":
            if conversation.priority.value == value:
                continue
            services.set_priority(session, actor, conversation, value)
        elif kind == "set_status":
            if conversation.status.value == value:
                continue
            services.set_status(session, actor, conversation, value)
        elif kind == "assign_agent":
            agent = find_agent(session, value)
            if agent is None or not agent.active:
                raise Invalid("assign_agent", f"no such active agent {value}")
            if conversation.assignee_id == agent.id:
                continue
            services.assign(session, actor, conversation, agent)
        elif kind == "assign_team":
            team = find_team(session, value)
            if team is None:
                raise Invalid("assign_team", f"no such team {value}")
            if conversation.team_id == team.id:
                continue
            services.assign(session, actor, conversation, conversation.assignee, team)
        elif kind in ("reply", "note"):
            text = canned.render(value, conversation, signer_name)
            meta = dict(message_meta or {})
            if kind == "reply" and actor.type == "system":
                meta["deliver"] = True  # a rule's reply goes out like an agent's (tickets/email/outbound)
            services.post_message(session, actor, conversation, body=text, private=kind == "note", meta=meta)
        elif kind == "webhook":
            jobs.enqueue(session, webhook.JOB, {
                "url": value, "event": event, "delivery_id": uuid.uuid4().hex, "created_at": utcnow().isoformat(),
                "data": {"conversation_id": conversation.public_id, "ref": conversation.ref,
                         "status": conversation.status.value, "priority": conversation.priority.value,
                         "subject": conversation.subject, "tags": [t.name for t in conversation.tags],
                         "actor": actor.name}}, max_attempts=webhook.MAX_ATTEMPTS)
        done.append(describe(session, action))
    return done
