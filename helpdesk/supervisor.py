"""The job worker as a child OS process of `helpdesk run`, restarted with backoff when it dies.

A child process (not a greenlet) because parsing a mail or calling a CRM is CPU or blocking work
that would stall every socket of the web process. It is started as `python -m helpdesk worker`
(a fresh interpreter: no fork after gevent patched the parent) on the same database and instance.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

log = logging.getLogger("helpdesk.supervisor")

RESTART_MIN_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0  # a child that ran this long starts the backoff afresh


def worker_environment(config: Any) -> dict[str, str]:
    """The parent's settings as the child reads them. The environment and instance folder give
    it everything else (the secret key too); `helpdesk demo` overrides the database and URL."""
    env = dict(os.environ)
    env.update({
        "HELPDESK_DATABASE_URL": str(config["DATABASE_URL"]),
        "HELPDESK_INSTANCE_PATH": str(config["INSTANCE_PATH"]),
        "HELPDESK_BASE_URL": str(config["BASE_URL"]),
        "HELPDESK_RUN_MIGRATIONS": "0",  # the parent migrated before it started us
        "HELPDESK_WORKER_NICE": str(int(config.get("WORKER_NICE") or 0)),
    })
    return env


def _child_setup(nice: int) -> None:
    # Parsing mail or applying a CRM page is CPU work; on a small box it must not take the CPU
    # from the process that holds the sockets, so the worker runs at a lower priority.
    if nice > 0:
        os.nice(nice)
    _die_with_parent()


def _die_with_parent() -> None:
    # Linux: the kernel sends the child SIGTERM when the web process dies, even by kill -9, so a
    # worker never outlives the server it belongs to.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class WorkerSupervisor:
    """`socket_server`: without Redis, the child's socket emits come back through a pipe and are
    emitted to this process's sockets (helpdesk/emit_pipe.py)."""

    def __init__(self, env: dict[str, str], command: list[str] | None = None, socket_server: Any = None) -> None:
        self.env = env
        self.command = command or [sys.executable, "-m", "helpdesk", "worker"]
        self.socket_server = socket_server
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        nice = int(env.get("HELPDESK_WORKER_NICE") or 0)
        self._preexec = functools.partial(_child_setup, nice)
        self._stopping = threading.Event()  # gevent's under `helpdesk run`
        self._stopped = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="worker-supervisor", daemon=True).start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        if self.socket_server is None:
            proc = subprocess.Popen(self.command, env=self.env, preexec_fn=self._preexec)
        else:
            from helpdesk import emit_pipe

            read_fd, write_fd = os.pipe()
            try:
                proc = subprocess.Popen(self.command, env={**self.env, emit_pipe.ENV: str(write_fd)},
                                        pass_fds=(write_fd,), preexec_fn=self._preexec)
            except BaseException:
                os.close(read_fd)
                raise
            finally:
                os.close(write_fd)
            emit_pipe.start_relay(read_fd, self.socket_server)
        log.info("job worker process %s started", proc.pid)
        return proc

    def _run(self) -> None:
        delay = RESTART_MIN_SECONDS
        try:
            while not self._stopping.is_set():
                started = time.monotonic()
                self.proc = self._spawn()
                code = self.proc.wait()
                self._release_child(self.proc.pid)  # a clean exit holds none: a cheap no-op
                if self._stopping.is_set():
                    log.info("job worker process %s exited with status %s", self.proc.pid, code)
                    break
                if time.monotonic() - started >= HEALTHY_AFTER_SECONDS:
                    delay = RESTART_MIN_SECONDS
                log.warning("job worker process %s exited with status %s; restarting in %.0f s",
                            self.proc.pid, code, delay)
                self.restarts += 1
                if self._stopping.wait(delay):
                    break
                delay = min(delay * 2, RESTART_MAX_SECONDS)
        finally:
            self._stopped.set()

    def _release_child(self, pid: int) -> None:
        """A child killed mid-job (crash, OOM, kill -9) leaves its lease: give its jobs back now."""
        url = self.env.get("HELPDESK_DATABASE_URL")
        if not url:
            return
        try:
            if released := release_leases(url, f"{socket.gethostname()}:{pid}:"):
                log.warning("job worker process %s died holding %d job(s); they are due again", pid, released)
        except Exception:
            log.exception("releasing the jobs of job worker process %s", pid)

    def stop(self, timeout: float) -> None:
        """SIGTERM the child (it finishes or releases its current job) and wait up to `timeout`."""
        self._stopping.set()
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            log.warning("job worker process %s did not stop in %.0f s; killing it", proc.pid, timeout)
            proc.kill()
            proc.wait()
        self._stopped.wait(5)


def release_leases(url: str, worker_name: str, busy_seconds: float = 2.0) -> int:
    """Give back the jobs a stopped worker holds (`worker_name`, or a `host:pid:` prefix of a dead
    child's), due now and without using an attempt, so another worker takes them at once instead
    of waiting out the lease.

    Its own engine and a short wait: the job being cut off may still hold this process's write
    lock (a handler inside its transaction); then the lease is left to run out, as after a crash.
    """
    from sqlalchemy import update

    from helpdesk.db import Database, utcnow
    from helpdesk.jobs import Job, JobState

    held = Job.locked_by.startswith(worker_name, autoescape=True) if worker_name.endswith(":") \
        else Job.locked_by == worker_name
    db = Database(url, busy_seconds=busy_seconds)
    try:
        with db.unit_of_work() as session:
            return session.execute(update(Job).where(held, Job.state == JobState.running).values(
                state=JobState.queued, locked_by=None, locked_until=None, run_at=utcnow(),
                attempts=Job.attempts - 1, last_error="released: the worker was stopped mid-job")).rowcount
    finally:
        db.dispose()


def run_until_terminated(worker: Any, db: Any, poll_seconds: float, drain_seconds: float) -> None:
    """`helpdesk worker`: on SIGTERM or Ctrl+C take no new job and let the current one finish;
    past `drain_seconds`, release its lease and exit (status 0 either way)."""
    stopping = threading.Event()
    finished = threading.Event()

    def drain() -> None:
        # Started beforehand: under gevent a signal handler runs in the event loop and must not block.
        stopping.wait()
        log.info("job worker %s: stopping; the current job may finish for %.0f s", worker.name, drain_seconds)
        if not finished.wait(drain_seconds):
            try:
                released = release_leases(db.url, worker.name)
                log.warning("job worker %s: the current job outlasted the drain; released %d lease(s)",
                            worker.name, released)
            except Exception as exc:
                log.warning("job worker %s: the current job outlasted the drain; its lease runs out by "
                            "itself (%s)", worker.name, exc)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    def terminate(_signum: int, _frame: Any) -> None:
        worker.stop()
        stopping.set()

    threading.Thread(target=drain, name="worker-drain", daemon=True).start()
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    try:
        worker.run_forever(poll_seconds)
    finally:
        finished.set()
    log.info("job worker %s stopped", worker.name)
