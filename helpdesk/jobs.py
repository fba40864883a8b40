"""The durable job queue, kept in the main database, and the worker loop that drains it.

A job is written in the same transaction as the change that caused it, so it exists exactly when
the change does. Workers claim a job by taking a lease; a worker that dies mid-job leaves a lease
that expires, and the job runs again (handlers are idempotent: at-least-once delivery).

Handlers are registered per app on its runtime (`runtime.jobs.register(kind, fn)`) and are called
as `fn(ctx: JobContext, payload)`; see helpdesk/runtime.py.
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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Enum, Index, Integer, String, Text, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from helpdesk.db import Base, Database, UTCDateTime, utcnow
from helpdesk.runtime import Handler as Handler
from helpdesk.runtime import JobInfo, Runtime

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
    """Raised by a handler to be run again after `seconds` (a 429's Retry-After, Salesforce's
    REQUEST_LIMIT_EXCEEDED, a mail server's 4xx): the wait is the other side's, not a failure of
    ours, so it does not use up an attempt (like a mail server's queue)."""

    def __init__(self, seconds: float, reason: str = "retry requested") -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


class Permanent(Exception):
    """Raised by a handler when retrying cannot help: the job is parked as dead at once."""


# Waits a handler may ask for with RetryLater: at least a moment, at most an hour per wait.
RETRY_LATER_MIN_SECONDS = 0.5
RETRY_LATER_MAX_SECONDS = 3600.0


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


def schedule_periodic(session: Session, kinds: dict[str, float]) -> int:
    """Queue each periodic kind that has no pending run, due `interval` after its last finish.
    Safe to call from every worker: the dedupe key keeps one pending run per kind."""
    count = 0
    now = utcnow()
    for kind, interval in kinds.items():
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


class Worker:
    """Claims due jobs of its runtime's registry and runs them with a `JobContext`.

    A claim is a short lease (JOB_LEASE_SECONDS, 30 s by default) that a heartbeat renews every
    JOB_HEARTBEAT_SECONDS while the handler runs: a worker killed with -9 leaves a lease that runs
    out within the lease time, and its job is claimed again. A worker whose lease was taken over
    (it stalled past the lease) does not settle the job: only the lease holder writes its state.
    """

    def __init__(self, runtime: Runtime, *, lease_seconds: float | None = None,
                 heartbeat_seconds: float | None = None, name: str = "") -> None:
        self.runtime = runtime
        self.db: Database = runtime.db
        settings = runtime.settings
        self.lease_seconds = float(lease_seconds if lease_seconds is not None
                                   else settings.get("JOB_LEASE_SECONDS") or 30)
        beat = heartbeat_seconds
        if beat is None and lease_seconds is None:
            beat = settings.get("JOB_HEARTBEAT_SECONDS")
        # Three beats per lease by default: one lost beat (a busy database) does not lose the lease.
        self.heartbeat_seconds = float(beat or self.lease_seconds / 3)
        if self.heartbeat_seconds >= self.lease_seconds:
            raise ValueError("JOB_HEARTBEAT_SECONDS must be shorter than JOB_LEASE_SECONDS")
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()

    def _now(self) -> datetime:
        return self.runtime.clock()

    def claim(self) -> Job | None:
        """Take the lease of one due job: queued and due, or running with an expired lease."""
        for _ in range(5):  # another worker may win the row we picked: try the next one
            job, raced = self._try_claim()
            if not raced:
                return job
        return None

    def _try_claim(self) -> tuple[Job | None, bool]:
        now = self._now()
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
        if job.attempts > job.max_attempts:
            # Claimed back from workers that died running it, once per attempt: a job that kills
            # its worker (out of memory, a crash in C) must not do so forever.
            self._settle(job, f"gave up: the worker running it stopped {job.attempts - 1} times "
                              f"(crash or kill) before it finished; {job.last_error or ''}".rstrip("; "),
                         JobState.dead, None)
            return True
        fn = self.runtime.jobs.handler(job.kind)
        lost = threading.Event()
        info = JobInfo(id=job.id, kind=job.kind, attempts=job.attempts, max_attempts=job.max_attempts,
                       created_at=job.created_at)
        beat = _Heartbeat(self, job.id, lost)
        beat.start()
        try:
            try:
                if fn is None:
                    raise Permanent(f"no handler for job kind {job.kind!r}")
                fn(self.runtime.context(info, lost), dict(job.payload))
            finally:
                beat.stop()  # whatever happens (even the process being stopped), the lease stops growing
        except RetryLater as exc:
            wait = min(RETRY_LATER_MAX_SECONDS, max(RETRY_LATER_MIN_SECONDS, float(exc.seconds)))
            self._settle(job, exc.reason, JobState.queued, wait, refund_attempt=True)
        except Permanent as exc:
            self._settle(job, str(exc) or type(exc).__name__, JobState.dead, None)
        except Exception as exc:
            log.warning("job %s (%s) failed on attempt %s: %s", job.id, job.kind, job.attempts, exc)
            error = f"{type(exc).__name__}: {exc}"
            if job.attempts >= job.max_attempts:
                self._settle(job, f"gave up after {job.attempts} attempts: {error}", JobState.dead, None)
            else:
                self._settle(job, error, JobState.queued, backoff(job.attempts))
        else:
            self._settle(job, None, JobState.done, None)
        return True

    def _settle(self, job: Job, error: str | None, state: JobState, delay: float | None, *,
                refund_attempt: bool = False) -> bool:
        """Write the outcome, if this worker still holds the lease; False when it lost it."""
        now = self._now()
        values: dict[str, Any] = {"state": state, "last_error": error[:4000] if error else None,
                                  "locked_by": None, "locked_until": None}
        if state in (JobState.done, JobState.dead):
            values["finished_at"] = now
        if delay is not None:
            values["run_at"] = now + timedelta(seconds=delay)
        if refund_attempt:
            values["attempts"] = Job.attempts - 1
        with self.db.unit_of_work() as session:
            settled = session.execute(update(Job).where(
                Job.id == job.id, Job.locked_by == self.name, Job.state == JobState.running).values(**values)
            ).rowcount == 1
        if not settled:
            log.warning("job %s (%s): lease lost to another worker; its outcome is theirs", job.id, job.kind)
        return settled

    def renew(self, job_id: int) -> bool:
        """Extend the lease of a running job of ours; False when another worker took it over."""
        with self.db.unit_of_work() as session:
            return session.execute(update(Job).where(
                Job.id == job_id, Job.locked_by == self.name, Job.state == JobState.running).values(
                locked_until=self._now() + timedelta(seconds=self.lease_seconds))).rowcount == 1

    def run_until_idle(self, max_jobs: int = 10_000) -> int:
        """Drain due jobs (tests and `helpdesk worker --once`)."""
        count = 0
        while count < max_jobs and self.run_one():
            count += 1
        return count

    def schedule_periodic(self) -> int:
        kinds = self.runtime.jobs.every
        if not kinds:
            return 0
        with self.db.unit_of_work() as session:
            return schedule_periodic(session, kinds)

    def run_forever(self, poll_seconds: float = 1.0, sleep: Callable[[float], Any] = time.sleep) -> None:
        log.info("job worker %s started", self.name)
        next_schedule = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_schedule:
                    self.schedule_periodic()
                    next_schedule = time.monotonic() + SCHEDULE_EVERY_SECONDS
                busy = self.run_one()
            except Exception:
                log.exception("job worker loop error")
                busy = False
            if not busy:
                sleep(poll_seconds)

    def stop(self) -> None:
        self._stop.set()


class _Heartbeat:
    """Renews one job's lease while its handler runs.

    A `threading.Thread`: under gevent's monkey-patching it is a greenlet (it runs whenever the
    handler waits on the network or the database, which is what handlers do), without it a real
    thread. A handler that computes for longer than a lease without yielding must be split up."""

    def __init__(self, worker: Worker, job_id: int, lost: threading.Event) -> None:
        self.worker = worker
        self.job_id = job_id
        self.lost = lost
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-heartbeat-{job_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=self.worker.lease_seconds)

    def _run(self) -> None:
        while not self._done.wait(self.worker.heartbeat_seconds):
            try:
                if not self.worker.renew(self.job_id):
                    self.lost.set()
                    log.warning("job %s: lease lost (another worker claimed it)", self.job_id)
                    return
            except Exception:
                # A beat that fails (database busy) is retried at the next one; the lease is
                # three beats long.
                log.warning("job %s: heartbeat failed", self.job_id, exc_info=True)
