"""`helpdesk run` runs the job worker as a supervised child process; SIGTERM drains (real subprocesses)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from helpdesk.db import Database
from helpdesk.jobs import Job, JobState, enqueue
from tests.conftest import ROOT, LiveServer, start_live_server, stop_live_server
from tests.crm.fake_hubspot import FakeHubSpot
from tests.servers import wait_until


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def worker_children(pid: int) -> list[int]:
    return [c for c in children(pid) if b"worker" in Path(f"/proc/{c}/cmdline").read_bytes()]


def queue_unknown_job(database_url: str) -> int:
    """A job of a kind nobody handles: a worker that runs it parks it as dead at once."""
    db = Database(database_url)
    try:
        with db.unit_of_work() as s:
            return enqueue(s, "test.no_such_kind", {}).id
    finally:
        db.dispose()


def job_state(database_url: str, job_id: int) -> JobState:
    db = Database(database_url)
    try:
        with db.unit_of_work() as s:
            return s.scalar(select(Job.state).where(Job.id == job_id))
    finally:
        db.dispose()


def nice_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_run_starts_the_worker_as_a_child_process_and_restarts_it(live_server: LiveServer) -> None:
    first = wait_until(lambda: worker_children(live_server.proc.pid), timeout=30, message="a worker child")
    # Parsing mail or applying CRM pages must not take the CPU from the process with the sockets.
    assert nice_of(first[0]) == nice_of(live_server.proc.pid) + 10
    job = queue_unknown_job(live_server.database_url)
    wait_until(lambda: job_state(live_server.database_url, job) == JobState.dead, timeout=30,
               message="the worker child to run the job")
    os.kill(first[0], signal.SIGKILL)
    second = wait_until(lambda: [c for c in worker_children(live_server.proc.pid) if c not in first],
                        timeout=15, message="a new worker child")
    assert second and live_server.proc.poll() is None
    job = queue_unknown_job(live_server.database_url)
    wait_until(lambda: job_state(live_server.database_url, job) == JobState.dead, timeout=30,
               message="the restarted worker to run jobs")
    assert "exited with status -9; restarting" in live_server.output()
    stop_live_server(live_server)
    assert live_server.proc.returncode == 0
    wait_until(lambda: not Path(f"/proc/{second[0]}").exists() or
               Path(f"/proc/{second[0]}/stat").read_text().split()[2] == "Z", timeout=10,
               message="the worker to stop with the server")


def test_run_no_worker_serves_without_a_worker(tmp_path: Path, database_url: str) -> None:
    server = start_live_server(tmp_path, database_url, command="run --no-worker")
    try:
        assert requests.get(f"{server.url}/healthz", timeout=10).json()["ok"] is True
        job = queue_unknown_job(database_url)
        time.sleep(1.5)  # a worker (polling every 0.2 s) would have run it by now
        assert job_state(database_url, job) == JobState.queued
        assert worker_children(server.proc.pid) == []
    finally:
        stop_live_server(server)


def test_sigterm_lets_a_request_in_flight_finish_and_exits_0(live_server: LiveServer) -> None:
    wait_until(lambda: "polling every" in live_server.output(), timeout=30, message="the worker child to start")
    import engineio

    client = engineio.Client()
    closed: list[bool] = []
    client.on("disconnect", lambda *_: closed.append(True))
    client.connect(live_server.url, transports=["polling"], engineio_path="socket.io")
    # A request still sending its body when SIGTERM arrives is in flight: it gets its answer.
    parts = urlsplit(live_server.url)
    body = b"email=a%40shop.example&password=x"
    sock = socket.create_connection((parts.hostname, parts.port), timeout=20)
    sock.sendall(f"POST /login HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: application/json\r\n"
                 f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                 + body[:5])
    time.sleep(0.5)
    live_server.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: "draining" in live_server.output(), timeout=10, message="the drain to start")
    wait_until(lambda: closed, timeout=10, message="the socket to be closed by the server")
    with pytest.raises(requests.ConnectionError):  # no new connections while draining
        requests.get(f"{live_server.url}/healthz", timeout=5)
    time.sleep(1.0)
    sock.sendall(body[5:])
    answer = b""
    while b"}" not in answer and (data := sock.recv(65536)):
        answer += data
    sock.close()
    assert answer.startswith(b"HTTP/1.1 400") and b"csrf" in answer  # answered, not cut off
    assert live_server.proc.wait(timeout=30) == 0
    assert "job worker process" in live_server.output() and "exited with status 0" in live_server.output(), \
        live_server.output()[-3000:]


class SlowHubSpot(FakeHubSpot):
    """Takes `delay` seconds over its first request: a CRM pull is mid-job for that long."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.started = 0.0

    def precheck(self, method: str, path: str, headers: dict[str, str]) -> Any:
        if not self.started:
            self.started = time.monotonic()
            time.sleep(self.delay)
        return super().precheck(method, path, headers)


def start_worker(database_url: str, tmp_path: Path, hubspot: FakeHubSpot, drain: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HELPDESK_DATABASE_URL": database_url, "HELPDESK_INSTANCE_PATH": str(tmp_path / "inst"),
           "PYTHONPATH": str(ROOT), "HELPDESK_WORKER_POLL_SECONDS": "0.2", "HELPDESK_DRAIN_SECONDS": str(drain),
           "HELPDESK_CRM": "hubspot", "HELPDESK_HUBSPOT_ACCESS_TOKEN": "hs-token",
           "HELPDESK_HUBSPOT_API_URL": hubspot.url, "HELPDESK_SECRET_KEY": "s"}
    return subprocess.Popen([sys.executable, "-m", "helpdesk", "worker"], cwd=tmp_path, env=env,
                            stdout=(tmp_path / "worker.log").open("wb"), stderr=subprocess.STDOUT)


def crm_pull_jobs(database_url: str) -> list[tuple[JobState, str | None]]:
    db = Database(database_url)
    try:
        with db.unit_of_work() as s:
            return [(j.state, j.locked_by) for j in s.scalars(select(Job).where(Job.kind == "crm.pull"))]
    finally:
        db.dispose()


@pytest.mark.parametrize(("delay", "drain", "outcome"), [(2.0, 20.0, "finished"), (30.0, 1.0, "released")])
def test_sigterm_lets_the_worker_finish_or_release_its_job_and_exit_0(
        database_url: str, tmp_path: Path, delay: float, drain: float, outcome: str) -> None:
    hubspot = SlowHubSpot(delay).start()
    db = Database(database_url)
    with db.unit_of_work() as s:
        enqueue(s, "crm.pull", {"full": True})
    db.dispose()
    worker = start_worker(database_url, tmp_path, hubspot, drain)
    try:
        wait_until(lambda: hubspot.started, timeout=60, message="the worker to start a CRM pull")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=drain + 30) == 0
        jobs = crm_pull_jobs(database_url)
        log = (tmp_path / "worker.log").read_text()
        if outcome == "finished":
            assert time.monotonic() - hubspot.started >= delay
            assert (JobState.done, None) in jobs, (jobs, log)
        else:
            # The pull waits on HubSpot with no transaction open (jobs in phases), so the lease can
            # be given back: another worker takes the job at once, not after the lease.
            assert "outlasted the drain; released 1 lease" in log, log
            assert (JobState.queued, None) in jobs, (jobs, log)
    finally:
        if worker.poll() is None:
            worker.kill()
        hubspot.stop()


def test_a_worker_child_killed_mid_job_has_its_job_given_back_at_once(database_url: str, tmp_path: Path) -> None:
    hubspot = SlowHubSpot(60.0).start()
    db = Database(database_url)
    with db.unit_of_work() as s:
        job_id = enqueue(s, "crm.pull", {"full": True}).id
    db.dispose()
    server = start_live_server(tmp_path, database_url, env={
        "HELPDESK_CRM": "hubspot", "HELPDESK_HUBSPOT_ACCESS_TOKEN": "hs-token",
        "HELPDESK_HUBSPOT_API_URL": hubspot.url, "HELPDESK_CRM_PULL_INTERVAL": "0"})
    try:
        wait_until(lambda: hubspot.started, timeout=60, message="the worker child to start the CRM pull")
        killed = worker_children(server.proc.pid)
        os.kill(killed[0], signal.SIGKILL)
        # Given back by the supervisor, not after the lease ran out: due again, no attempt used.
        wait_until(lambda: "died holding 1 job(s)" in server.output(), timeout=15, message="the release")
        assert job_state(database_url, job_id) in (JobState.queued, JobState.running)
    finally:
        stop_live_server(server)
        hubspot.stop()


def test_the_worker_child_gets_the_web_process_s_database_and_urls(tmp_path: Path) -> None:
    from helpdesk.supervisor import worker_environment

    # `helpdesk demo` overrides the database and base URL in code: the child must use the same.
    env = worker_environment({"DATABASE_URL": "sqlite:////srv/demo.sqlite", "INSTANCE_PATH": str(tmp_path),
                              "BASE_URL": "http://127.0.0.1:5005", "SECRET_KEY": "not-for-the-environment"})
    assert env["HELPDESK_DATABASE_URL"] == "sqlite:////srv/demo.sqlite"
    assert env["HELPDESK_INSTANCE_PATH"] == str(tmp_path) and env["HELPDESK_BASE_URL"] == "http://127.0.0.1:5005"
    assert env["HELPDESK_RUN_MIGRATIONS"] == "0"  # the parent migrated already
    assert "not-for-the-environment" not in env.values()  # read from the instance folder instead
