"""What happens to conversations, for listeners in higher rooms (sockets, email, CRM)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from helpdesk.events import Event


@dataclass(frozen=True)
class ConversationCreated(Event):
    conversation_id: int
    inbox_id: int
    channel: str


@dataclass(frozen=True)
class ConversationUpdated(Event):
    conversation_id: int
    changes: dict[str, Any] = field(default_factory=dict)  # field -> [old, new]


@dataclass(frozen=True)
class MessagePosted(Event):
    message_id: int
    conversation_id: int
    author_type: str
    private: bool
    channel: str


@dataclass(frozen=True)
class CsatAnswered(Event):
    """A customer scored a conversation (first answer or a change within the window)."""

    conversation_id: int
    survey_id: int
    score: int
    comment: str


@dataclass(frozen=True)
class DeliveryChanged(Event):
    """An outbound message was sent or failed (the console's ticks follow it)."""

    message_id: int
    conversation_id: int
    delivery: str
