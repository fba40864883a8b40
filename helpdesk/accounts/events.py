"""Events of the accounts room, dispatched after the commit that caused them."""

from __future__ import annotations

from dataclasses import dataclass

from helpdesk.events import Event


@dataclass(frozen=True)
class AgentAccessChanged(Event):
    """An agent's sessions ended (logout, disable, password change) or their role changed: every
    live connection of that agent must close, since it was opened under the old rights."""

    agent_id: int
    reason: str
