"""Domain events: recorded inside a transaction, dispatched only after it commits."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_PENDING = "helpdesk.pending_events"


@dataclass(frozen=True)
class Event:
    """Base of every domain event: plain data, safe to hand to another process."""


Handler = Callable[[Any], None]


class Dispatcher:
    """Per-app registry of listeners. A failing listener is logged, never raised into the caller:
    the change it reacts to is already committed."""

    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: type, handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def dispatch(self, ev: Event) -> None:
        for event_type, handlers in list(self._handlers.items()):
            if isinstance(ev, event_type):
                for handler in list(handlers):
                    try:
                        handler(ev)
                    except Exception:
                        log.exception("listener %r failed on %r", handler, ev)


def record(session: Session, ev: Event) -> None:
    session.info.setdefault(_PENDING, []).append(ev)


def pending(session: Session) -> list[Event]:
    return list(session.info.get(_PENDING, []))


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released: the real commit (and the dispatch) is still to come
    events = session.info.pop(_PENDING, [])
    dispatcher = session.info.get("dispatcher")
    if dispatcher is None:
        return
    for ev in events:
        dispatcher.dispatch(ev)


@sa_event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
