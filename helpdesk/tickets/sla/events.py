"""What the SLA clocks report, for listeners in higher rooms (rules, webhooks, alerts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from helpdesk.events import Event


@dataclass(frozen=True)
class SlaBreached(Event):
    """A target's due time passed unmet (recorded once per metric and due time)."""

    conversation_id: int
    policy_id: int | None
    metric: str  # first_response | next_response | resolution
    due_at: datetime
