"""Short leases renewed by a heartbeat: a long job keeps its lease while its worker lives; a worker
killed with -9 leaves a lease that runs out within one lease time, and its job runs again; a worker
that lost its lease does not settle the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from helpdesk import db_of, jobs
from helpdesk.db import utcnow
from helpdesk.jobs import Job, JobState, Worker
from helpdesk.runtime import JobContext, runtime_of
from tests.conftest import ROOT
from tests.servers import wait_until

LEASE = 3.0
BEAT = 0.5

# A worker process as `helpdesk worker` runs it: gevent first, the heartbeat a greenlet beside
# the handler, which waits (here: sleeps) far longer than one lease.
SLOW_WORKER = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()

    import sys, time
    from pathlib import Path
    from helpdesk import create_app
    from helpdesk.jobs import Worker
    from helpdesk.runtime import runtime_of

    def slow(ctx, payload):
        Path(sys.argv[3]).write_text(str(ctx.job.id))
        time.sleep(600)  # an SMTP server that never answers

    app = create_app({"DATABASE_URL": sys.argv[1], "RUN_MIGRATIONS": False, "SECRET_KEY": "x",
                      "INSTANCE_PATH": sys.argv[2], "JOB_LEASE_SECONDS": float(sys.argv[4]),
                      "JOB_HEARTBEAT_SECONDS": float(sys.argv[5])})
    runtime_of(app).jobs.register("test.slow", slow)
    Worker(runtime_of(app)).run_one()
""")


def job_row(app: Flask, job_id: int) -> Job:
    with db_of(app).unit_of_work() as s:
        row = s.get(Job, job_id)
        s.expunge(row)
        return row


def test_a_job_of_a_worker_killed_with_sigkill_runs_again_within_the_lease(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    with db_of(app).unit_of_work() as s:
        job_id = jobs.enqueue(s, "test.slow", {"to": "ann@example.com"}).id
    started = tmp_path / "started"
    script = tmp_path / "slow_worker.py"
    script.write_text(SLOW_WORKER)
    proc = subprocess.Popen(
        [sys.executable, str(script), database_url, str(tmp_path / "inst"), str(started), str(LEASE), str(BEAT)],
        cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    try:
        wait_until(started.exists, timeout=60, message="the worker process to start the job")
        # Alive and beating: two lease times later the job is still its own.
        time.sleep(2 * LEASE)
        held = job_row(app, job_id)
        assert proc.poll() is None
        assert held.state is JobState.running and held.attempts == 1
        assert held.locked_until is not None and held.locked_until > utcnow(), "the heartbeat renews the lease"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    killed_at = time.monotonic()
    seen: list[dict[str, Any]] = []
    runtime_of(app).jobs.register("test.slow", lambda ctx, payload: seen.append(payload))
    worker = Worker(runtime_of(app), lease_seconds=LEASE, heartbeat_seconds=BEAT)
    wait_until(worker.run_one, timeout=LEASE + 10, interval=0.2, message="the orphaned job to be claimed again")
    assert time.monotonic() - killed_at <= LEASE + 5, "claimed again within about one lease, not minutes"
    assert seen == [{"to": "ann@example.com"}]
    done = job_row(app, job_id)
    assert done.state is JobState.done and done.attempts == 2


def test_a_worker_that_lost_its_lease_does_not_settle_the_job(app: Flask) -> None:
    release = threading.Event()
    noticed: list[bool] = []

    def stuck(ctx: JobContext, payload: dict[str, Any]) -> None:
        # Another worker takes the job over while this one is stuck (past its lease).
        with ctx.db.unit_of_work() as s:
            s.execute(update(Job).where(Job.id == ctx.job.id).values(locked_by="the-other-worker"))
        release.wait(10)
        noticed.append(ctx.lease_lost)
        raise RuntimeError("this failure is not ours to record any more")

    runtime_of(app).jobs.register("test.stuck", stuck)
    with db_of(app).unit_of_work() as s:
        job_id = jobs.enqueue(s, "test.stuck").id
    worker = Worker(runtime_of(app), lease_seconds=1, heartbeat_seconds=0.1)
    runner = threading.Thread(target=worker.run_one)
    runner.start()
    wait_until(lambda: job_row(app, job_id).locked_by == "the-other-worker", timeout=10)
    time.sleep(0.5)  # a few heartbeats: each finds the lease gone
    release.set()
    runner.join(timeout=20)
    assert noticed == [True], "the handler can see that its lease is lost"
    row = job_row(app, job_id)
    assert (row.state, row.locked_by, row.last_error) == (JobState.running, "the-other-worker", None)


def test_lease_and_heartbeat_come_from_the_settings(app: Flask) -> None:
    app.config.update(JOB_LEASE_SECONDS=12, JOB_HEARTBEAT_SECONDS=2)
    worker = Worker(runtime_of(app))
    assert (worker.lease_seconds, worker.heartbeat_seconds) == (12, 2)
    app.config.update(JOB_HEARTBEAT_SECONDS=None)
    assert Worker(runtime_of(app)).heartbeat_seconds == 4  # a third of the lease
    app.config.update(JOB_HEARTBEAT_SECONDS=12)
    with pytest.raises(ValueError, match="shorter"):  # a heartbeat as long as the lease cannot keep it
        Worker(runtime_of(app))


def test_a_job_whose_workers_keep_dying_is_dead_after_its_attempts(app: Flask) -> None:
    ran: list[int] = []
    runtime_of(app).jobs.register("test.poison", lambda ctx, payload: ran.append(1))
    with db_of(app).unit_of_work() as s:
        job_id = jobs.enqueue(s, "test.poison", max_attempts=2).id
        # Two workers claimed it and died (kill -9, out of memory): its lease ran out twice.
        s.execute(update(Job).where(Job.id == job_id).values(
            state=JobState.running, attempts=2, locked_by="dead-worker", locked_until=utcnow()))
    assert Worker(runtime_of(app)).run_one()
    row = job_row(app, job_id)
    assert ran == [] and row.state is JobState.dead
    assert "stopped 2 times (crash or kill)" in (row.last_error or "")


def test_admins_see_which_worker_holds_a_running_job_and_until_when(app: Flask, admin_client: Any) -> None:
    with db_of(app).unit_of_work() as s:
        job_id = jobs.enqueue(s, "test.shown").id
        s.execute(update(Job).where(Job.id == job_id).values(
            state=JobState.running, attempts=1, locked_by="host:4242:abc", locked_until=utcnow()))
    page = admin_client.get("/admin/jobs").get_data(as_text=True)
    assert "test.shown" in page and "host:4242:abc" in page
