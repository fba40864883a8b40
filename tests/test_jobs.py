"""The durable job queue: same-transaction enqueue, backoff, Retry-After, dead jobs, crashes, no double runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of, jobs
from helpdesk.db import utcnow
from helpdesk.jobs import Job, JobState, Worker
from helpdesk.runtime import runtime_of
from tests.conftest import ROOT
from tests.servers import wait_until


@pytest.fixture
def calls() -> list[Any]:
    return []


def register(app: Flask, kind: str, fn: Any) -> None:
    """Handlers belong to one app's runtime: registering here touches no other app."""
    runtime_of(app).jobs.register(kind, fn)


def enqueue(app: Flask, kind: str, payload: dict[str, Any] | None = None, **kwargs: Any) -> int:
    with db_of(app).unit_of_work() as s:
        return jobs.enqueue(s, kind, payload or {}, **kwargs).id


def job(app: Flask, job_id: int) -> Job:
    with db_of(app).unit_of_work() as s:
        return s.get(Job, job_id)


def test_a_job_exists_only_if_its_transaction_commits(app: Flask) -> None:
    with pytest.raises(RuntimeError), db_of(app).unit_of_work() as s:
        jobs.enqueue(s, "test.noop")
        raise RuntimeError("the change failed")
    with db_of(app).unit_of_work() as s:
        assert s.scalars(select(Job)).all() == []


def test_a_successful_job_is_done_with_its_changes(app: Flask, calls: list[Any]) -> None:
    register(app, "test.ok", lambda ctx, payload: calls.append(payload))
    job_id = enqueue(app, "test.ok", {"n": 1})
    assert Worker(runtime_of(app)).run_until_idle() == 1
    assert calls == [{"n": 1}]
    done = job(app, job_id)
    assert done.state is JobState.done and done.attempts == 1 and done.finished_at is not None


def test_a_failing_job_is_retried_later_with_exponential_backoff(app: Flask) -> None:
    def flaky(ctx: Any, payload: Any) -> None:
        raise ConnectionError("smtp down")
    register(app, "test.flaky", flaky)
    job_id = enqueue(app, "test.flaky")
    before = utcnow()
    Worker(runtime_of(app)).run_one()
    first = job(app, job_id)
    assert first.state is JobState.queued and first.attempts == 1
    assert "ConnectionError: smtp down" in first.last_error
    assert timedelta(seconds=1) < first.run_at - before < timedelta(seconds=4)
    assert Worker(runtime_of(app)).run_one() is False  # not due yet
    assert [round(jobs.backoff(n) / 2**n, 0) for n in (1, 3, 5)] == [1, 1, 1]


def test_retry_after_from_the_handler_is_honoured(app: Flask) -> None:
    def limited(ctx: Any, payload: Any) -> None:
        raise jobs.RetryLater(120, "429 Too Many Requests")
    register(app, "test.limited", limited)
    job_id = enqueue(app, "test.limited")
    before = utcnow()
    Worker(runtime_of(app)).run_one()
    waiting = job(app, job_id)
    assert waiting.state is JobState.queued and waiting.last_error == "429 Too Many Requests"
    assert waiting.attempts == 0, "waiting out a rate limit uses no attempt"
    assert timedelta(seconds=119) < waiting.run_at - before < timedelta(seconds=122)


def test_a_job_out_of_attempts_is_parked_dead_and_an_admin_can_retry_it(app: Flask) -> None:
    def broken(ctx: Any, payload: Any) -> None:
        raise ValueError("bad payload")
    register(app, "test.broken", broken)
    job_id = enqueue(app, "test.broken", max_attempts=2)
    worker = Worker(runtime_of(app))
    worker.run_one()
    with db_of(app).unit_of_work() as s:
        s.get(Job, job_id).run_at = utcnow()  # skip the backoff wait
    worker.run_one()
    dead = job(app, job_id)
    assert dead.state is JobState.dead and dead.attempts == 2 and "bad payload" in dead.last_error
    with db_of(app).unit_of_work() as s:
        jobs.retry_dead(s, job_id)
    assert job(app, job_id).state is JobState.queued


def test_a_permanent_failure_is_dead_at_once(app: Flask) -> None:
    job_id = enqueue(app, "test.unknown-kind")
    Worker(runtime_of(app)).run_one()
    dead = job(app, job_id)
    assert dead.state is JobState.dead and "no handler" in dead.last_error


def test_dead_jobs_are_shown_to_admins_with_a_retry_button(app: Flask, admin_client: Any) -> None:
    job_id = enqueue(app, "test.unknown-kind")
    Worker(runtime_of(app)).run_one()
    page = admin_client.get("/admin/jobs").get_data(as_text=True)
    assert "test.unknown-kind" in page and f"/admin/jobs/{job_id}/retry" in page


def test_dedupe_key_keeps_one_pending_job(app: Flask) -> None:
    first = enqueue(app, "test.sync", dedupe_key="crm:contact:7")
    assert enqueue(app, "test.sync", dedupe_key="crm:contact:7") == first


CRASHING_WORKER = textwrap.dedent("""
    import os, sys
    from helpdesk import create_app
    from helpdesk.jobs import Worker
    from helpdesk.runtime import runtime_of

    def crash(ctx, payload):
        os._exit(17)  # the process dies mid-job: no rollback, no bookkeeping

    app = create_app({"DATABASE_URL": sys.argv[1], "RUN_MIGRATIONS": False, "SECRET_KEY": "x",
                      "INSTANCE_PATH": sys.argv[2]})
    runtime_of(app).jobs.register("test.crash", crash)
    Worker(runtime_of(app), lease_seconds=1, heartbeat_seconds=0.5).run_one()
""")


def test_a_crash_mid_job_does_not_lose_the_job(app: Flask, database_url: str, tmp_path: Path,
                                               calls: list[Any]) -> None:
    job_id = enqueue(app, "test.crash", {"order": 1001})
    script = tmp_path / "crash.py"
    script.write_text(CRASHING_WORKER)
    proc = subprocess.run([sys.executable, str(script), database_url, str(tmp_path / "inst")], cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 17
    orphan = job(app, job_id)
    assert orphan.state is JobState.running and orphan.attempts == 1
    register(app, "test.crash", lambda ctx, payload: calls.append(payload))
    worker = Worker(runtime_of(app))
    wait_until(worker.run_one, timeout=10, message="the expired lease to be reclaimed")
    assert calls == [{"order": 1001}]
    finished = job(app, job_id)
    assert finished.state is JobState.done and finished.attempts == 2


def test_two_workers_never_run_one_job_twice(app: Flask) -> None:
    runs: list[int] = []
    lock = threading.Lock()

    def record(ctx: Any, payload: Any) -> None:
        with lock:
            runs.append(payload["n"])
    register(app, "test.count", record)
    with db_of(app).unit_of_work() as s:
        for n in range(120):
            jobs.enqueue(s, "test.count", {"n": n})
    workers = [Worker(runtime_of(app), name=f"w{i}") for i in range(4)]
    threads = [threading.Thread(target=w.run_until_idle, kwargs={"max_jobs": 500}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(runs) == list(range(120))
    with db_of(app).unit_of_work() as s:
        states = set(s.scalars(select(Job.state)).all())
    assert states == {JobState.done}


def test_periodic_jobs_keep_one_pending_run_due_an_interval_after_the_last(app: Flask, calls: list[Any]) -> None:
    register(app, "test.tick", lambda ctx, payload: calls.append("tick"))
    kinds = {"test.tick": 60.0}
    with db_of(app).unit_of_work() as s:
        assert jobs.schedule_periodic(s, kinds) == 1
        assert jobs.schedule_periodic(s, kinds) == 0  # one is already pending
    Worker(runtime_of(app)).run_until_idle()
    assert calls == ["tick"]
    with db_of(app).unit_of_work() as s:
        assert jobs.schedule_periodic(s, kinds) == 1
        nxt = s.scalar(select(Job).filter_by(dedupe_key="periodic:test.tick"))
        assert timedelta(seconds=55) < nxt.run_at - utcnow() <= timedelta(seconds=60)
    assert Worker(runtime_of(app)).run_until_idle() == 0  # not due for a minute


def test_a_job_that_gives_up_is_dead_with_its_reason_on_the_admin_page(app: Flask, admin_client: Any) -> None:
    def down(ctx: Any, payload: Any) -> None:
        raise ConnectionRefusedError("connection refused by 127.0.0.1:25")
    register(app, "test.down", down)
    job_id = enqueue(app, "test.down", max_attempts=2)
    worker = Worker(runtime_of(app))
    for _ in range(2):
        with db_of(app).unit_of_work() as s:
            s.get(Job, job_id).run_at = utcnow()  # skip the backoff wait
        assert worker.run_one()
    dead = job(app, job_id)
    assert dead.state is JobState.dead and dead.finished_at is not None
    assert dead.last_error == "gave up after 2 attempts: ConnectionRefusedError: connection refused by 127.0.0.1:25"
    page = admin_client.get("/admin/jobs").get_data(as_text=True)
    assert "gave up after 2 attempts: ConnectionRefusedError" in page and f"/admin/jobs/{job_id}/retry" in page


def test_a_handler_can_give_up_at_once_and_a_retry_later_keeps_no_attempt(app: Flask) -> None:
    outcomes = iter([jobs.RetryLater(0, "429 Retry-After: 0"), jobs.RetryLater(0, "again"),
                     jobs.Permanent("550 mailbox unavailable")])

    def answer(ctx: Any, payload: Any) -> None:
        raise next(outcomes)
    register(app, "test.answers", answer)
    job_id = enqueue(app, "test.answers", max_attempts=1)
    worker = Worker(runtime_of(app))
    for _ in range(3):
        with db_of(app).unit_of_work() as s:
            s.get(Job, job_id).run_at = utcnow()
        assert worker.run_one()
        if job(app, job_id).state is JobState.queued:
            assert job(app, job_id).attempts == 0  # two waits on a job of one attempt: still queued
    dead = job(app, job_id)
    assert (dead.state, dead.last_error, dead.attempts) == (JobState.dead, "550 mailbox unavailable", 1)
