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
TransactionHandler = Callable[[Session, Any], None]
_DONE = "helpdesk.events_done_in_transaction"


class Dispatcher:
    """Per-app registry of listeners.

    `subscribe`: called after the commit, for side effects (socket emits); a failing listener is
    logged, never raised into the caller, since the change it reacts to is already committed.
    `subscribe_in_transaction`: called just before the commit, inside the transaction, for writing
    jobs that must exist exactly when the change does (CRM pushes, surveys); its errors roll back.
    """

    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)
        self._in_transaction: dict[type, list[TransactionHandler]] = defaultdict(list)

    def subscribe(self, event_type: type, handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def subscribe_in_transaction(self, event_type: type, handler: TransactionHandler) -> None:
        self._in_transaction[event_type].append(handler)

    def run_in_transaction(self, session: Session) -> None:
        # Handlers may record events of their own: go on until nothing new (bounded).
        for _ in range(10):
            done = session.info.get(_DONE, 0)
            fresh = session.info.get(_PENDING, [])[done:]
            if not fresh:
                return
            session.info[_DONE] = done + len(fresh)
            for ev in fresh:
                for event_type, handlers in list(self._in_transaction.items()):
                    if isinstance(ev, event_type):
                        for handler in list(handlers):
                            handler(session, ev)
            session.flush()

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


@sa_event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    dispatcher = session.info.get("dispatcher")
    if dispatcher is not None and not session.in_nested_transaction():
        dispatcher.run_in_transaction(session)


_COMMITTED = "helpdesk.committed_events"


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released: the real commit (and the dispatch) is still to come
    session.info.pop(_DONE, None)
    session.info.setdefault(_COMMITTED, []).extend(session.info.pop(_PENDING, []))


@sa_event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    # Dispatch here, not in after_commit: by now the session has handed its connection back to
    # the pool. A listener that opens a session of its own while the committed one still holds a
    # connection needs two per message; under a burst of concurrent sends on PostgreSQL every
    # pooled connection was held by a committer waiting for a second one (a pool deadlock).
    if transaction.parent is not None or transaction.nested:
        return
    events = session.info.pop(_COMMITTED, [])
    dispatcher = session.info.get("dispatcher")
    if dispatcher is None:
        return
    for ev in events:
        dispatcher.dispatch(ev)


@sa_event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_DONE, None)
