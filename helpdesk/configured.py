"""Is anything of a kind configured: an automation rule for an event, a webhook subscriber, an
SLA policy? Every chat message asks, and almost always the answer is the one of a moment ago, so
it is kept per app instead of asked of the database each time (three queries of a message's
twelve).

An answer is forgotten when a transaction of this process that wrote a watched table commits,
and is at most TTL_SECONDS old for a change made by another process (an admin page served by
the other app process): a new rule starts applying within that time everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from helpdesk.runtime import Runtime

TTL_SECONDS = 2.0
_CHANGED = "helpdesk.configured_changed"


class Configured:
    def __init__(self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self.watched: tuple[type, ...] = ()
        self._answers: dict[str, tuple[bool, float]] = {}
        self._generation = 0  # bumped by every clear: an answer read before it is not stored

    def has(self, session: Session, key: str, ask: Callable[[Session], bool]) -> bool:
        now = self.clock()
        held = self._answers.get(key)
        if held is not None and now - held[1] < self.ttl:
            return held[0]
        generation = self._generation
        answer = bool(ask(session))
        if generation == self._generation:
            self._answers[key] = (answer, now)
        return answer

    def clear(self) -> None:
        self._generation += 1
        self._answers.clear()

    def watch(self, sessions: Any, *models: type) -> None:
        """Forget the answers when a transaction that wrote one of `models` commits."""
        first = not self.watched
        self.watched = (*self.watched, *models)
        if not first:
            return
        changed_key = f"{_CHANGED}:{id(self)}"  # one flag per cache: two apps may share a factory

        def flushed(session: Session, _context: Any, _instances: Any) -> None:
            changed = (*session.new, *session.dirty, *session.deleted)
            if any(isinstance(obj, self.watched) for obj in changed):
                session.info[changed_key] = True

        def committed(session: Session) -> None:
            if session.info.pop(changed_key, False):
                self.clear()

        def rolled_back(session: Session) -> None:
            session.info.pop(changed_key, None)

        event.listen(sessions, "before_flush", flushed)
        event.listen(sessions, "after_commit", committed)
        event.listen(sessions, "after_rollback", rolled_back)


def configured(runtime: Runtime) -> Configured:
    return runtime.state("configured", Configured)
