"""@mentions in private notes: `@Name` or `@email` of an active agent."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent

MAX_NOTE_SCAN = 10_000  # characters of a note looked at: bounded work on the socket process


def mentioned_agents(session: Session, body: str, *, author_id: int | None = None) -> list[Agent]:
    """The agents a note names, each once, never its author. A name matches whole (`@Ann Lee`,
    not `@Ann Leeds`), case-insensitively; the longest name wins where names share a start."""
    text = (body or "")[:MAX_NOTE_SCAN]
    if "@" not in text:
        return []
    lowered = text.lower()
    found: list[Agent] = []
    for agent in session.scalars(select(Agent).filter_by(active=True)):
        if agent.id == author_id:
            continue
        for handle in {agent.email.lower(), (agent.name or "").strip().lower()} - {""}:
            if re.search(r"(?<![\w@])@" + re.escape(handle) + r"(?![\w@-])", lowered):
                found.append(agent)
                break
    return found
