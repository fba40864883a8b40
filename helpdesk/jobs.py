"""The durable job queue, kept in the main database, and the worker loop that drains it.

A job is written in the same transaction as the change that caused it, so it exists exactly when
the change does. Workers claim a job by taking a lease; a worker that dies mid-job leaves a lease
that expires, and the job runs again (handlers are idempotent: at-least-once delivery).
"""

from __future__ import annotations

import enum
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Enum, Index, Integer, String, Text, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from helpdesk.db import Base, Database, UTCDateTime, utcnow

log = logging.getLogger(__name__)


class JobState(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    dead = "dead"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_run_at", "state", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[JobState] = mapped_column(Enum(JobState, native_enum=False, length=16),
                                            default=JobState.queued)
    # Optional: a second enqueue with the same key while the first is pending is a no-op.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(120))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RetryLater(Exception):
    """Raised by a handler to be run again after `seconds` (e.g. a 429's Retry-After)."""

    def __init__(self, seconds: float, reason: str = "retry requested") -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


class Permanent(Exception):
    """Raised by a handler when retrying cannot help: the job is parked as dead at once."""


Handler = Callable[[Session, dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {}
# Recurring work (IMAP polls, snooze wake-ups, CRM pulls): kind -> seconds between runs.
PERIODIC: dict[str, float] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn
    return register


def enqueue(session: Session, kind: str, payload: dict[str, Any] | None = None, *,
            delay: float = 0, dedupe_key: str | None = None, max_attempts: int = 8) -> Job:
    """Add a job to the caller's transaction."""
    if dedupe_key and (existing := session.scalar(select(Job).filter_by(dedupe_key=dedupe_key))):
        if existing.state in (JobState.queued, JobState.running):
            return existing
        existing.dedupe_key = None  # a finished job frees its key for the next one
        session.flush()
    job = Job(kind=kind, payload=payload or {}, dedupe_key=dedupe_key, max_attempts=max_attempts,
              run_at=utcnow() + timedelta(seconds=delay))
    session.add(job)
    session.flush()
    return job


def periodic(kind: str, every_seconds: float) -> Callable[[Handler], Handler]:
    """Register a handler that the worker runs every `every_seconds` (at most one pending at a time)."""
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        PERIODIC[kind] = every_seconds
        return fn
    return register


def schedule_periodic(session: Session, kinds: dict[str, float] | None = None) -> int:
    """Queue each periodic kind that has no pending run, due `interval` after its last finish.
    Safe to call from every worker: the dedupe key keeps one pending run per kind."""
    count = 0
    now = utcnow()
    for kind, interval in (PERIODIC if kinds is None else kinds).items():
        key = f"periodic:{kind}"
        last = session.scalar(select(Job).filter_by(dedupe_key=key))
        if last is not None and last.state in (JobState.queued, JobState.running):
            continue
        delay = 0.0
        if last is not None and last.finished_at is not None:
            delay = max(0.0, interval - (now - last.finished_at).total_seconds())
        try:
            with session.begin_nested():  # another worker may schedule the same kind at once
                enqueue(session, kind, {}, delay=delay, dedupe_key=key, max_attempts=1)
            count += 1
        except IntegrityError:
            continue
    return count


def backoff(attempts: int, base: float = 2.0, cap: float = 3600.0) -> float:
    """Exponential backoff with jitter: 2 s, 4 s, 8 s, ... capped at an hour."""
    delay = min(cap, base ** attempts)
    return delay * random.uniform(0.8, 1.2)


def retry_dead(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        from helpdesk.errors import NotFound
        raise NotFound("no such job")
    job.state = JobState.queued
    job.attempts = 0
    job.run_at = utcnow()
    job.last_error = None
    job.finished_at = None
    session.flush()
    return job


SCHEDULE_EVERY_SECONDS = 5.0


@dataclass
class Worker:
    db: Database
    lease_seconds: float = 300
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()

    def claim(self) -> Job | None:
        """Take the lease of one due job: queued and due, or running with an expired lease."""
        for _ in range(5):  # another worker may win the row we picked: try the next one
            job, raced = self._try_claim()
            if not raced:
                return job
        return None

    def _try_claim(self) -> tuple[Job | None, bool]:
        now = utcnow()
        with self.db.unit_of_work() as session:
            due = or_(
                (Job.state == JobState.queued) & (Job.run_at <= now),
                (Job.state == JobState.running) & (Job.locked_until < now),
            )
            query = select(Job.id).where(due).order_by(Job.run_at, Job.id).limit(1)
            if self.db.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            job_id = session.scalar(query)
            if job_id is None:
                return None, False
            # Compare-and-set: only one claimer can move the row out of the state it read.
            claimed = session.execute(
                update(Job).where(Job.id == job_id, due).values(
                    state=JobState.running, locked_by=self.name, attempts=Job.attempts + 1,
                    locked_until=now + timedelta(seconds=self.lease_seconds))
            ).rowcount
            if claimed != 1:
                return None, True
            job = session.get(Job, job_id)
            session.refresh(job)
            session.expunge(job)
            return job, False

    def run_one(self) -> bool:
        job = self.claim()
        if job is None:
            return False
        fn = HANDLERS.get(job.kind)
        try:
            if fn is None:
                raise Permanent(f"no handler for job kind {job.kind!r}")
            with self.db.unit_of_work() as session:
                fn(session, dict(job.payload))
                self._finish(session, job, JobState.done, None, None)
        except RetryLater as exc:
            self._settle(job, exc.reason, exc.seconds)
        except Permanent as exc:
            self._settle(job, str(exc), None, dead=True)
        except Exception as exc:
            log.warning("job %s (%s) failed on attempt %s: %s", job.id, job.kind, job.attempts, exc)
            self._settle(job, f"{type(exc).__name__}: {exc}", backoff(job.attempts))
        return True

    def _finish(self, session: Session, job: Job, state: JobState, error: str | None,
                delay: float | None) -> None:
        # Only the lease holder may settle a job: a worker whose lease ran out lost it.
        values: dict[str, Any] = {"state": state, "last_error": error, "locked_by": None,
                                  "locked_until": None}
        if state in (JobState.done, JobState.dead):
            values["finished_at"] = utcnow()
        if delay is not None:
            values["run_at"] = utcnow() + timedelta(seconds=delay)
        session.execute(update(Job).where(Job.id == job.id, Job.locked_by == self.name).values(**values))

    def _settle(self, job: Job, error: str, delay: float | None, dead: bool = False) -> None:
        with self.db.unit_of_work() as session:
            out_of_tries = job.attempts >= job.max_attempts
            state = JobState.dead if dead or out_of_tries else JobState.queued
            self._finish(session, job, state, error[:4000], None if state is JobState.dead else delay)

    def run_until_idle(self, max_jobs: int = 10_000) -> int:
        """Drain due jobs (tests and `helpdesk worker --once`)."""
        count = 0
        while count < max_jobs and self.run_one():
            count += 1
        return count

    def run_forever(self, poll_seconds: float = 1.0, sleep: Callable[[float], Any] = time.sleep) -> None:
        log.info("job worker %s started", self.name)
        next_schedule = 0.0
        while not self._stop.is_set():
            try:
                if PERIODIC and time.monotonic() >= next_schedule:
                    with self.db.unit_of_work() as session:
                        schedule_periodic(session)
                    next_schedule = time.monotonic() + SCHEDULE_EVERY_SECONDS
                busy = self.run_one()
            except Exception:
                log.exception("job worker loop error")
                busy = False
            if not busy:
                sleep(poll_seconds)

    def stop(self) -> None:
        self._stop.set()
