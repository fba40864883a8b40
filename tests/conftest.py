"""Fixtures: the app on SQLite or PostgreSQL (HELPDESK_TEST_DB), clients, agents, real servers."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from helpdesk import create_app, db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.db import make_engine
from helpdesk.migrations import upgrade
from tests.servers import Postgres, free_port, port_open, start_postgres, start_redis, wait_until

BACKEND = os.environ.get("HELPDESK_TEST_DB", "sqlite")
ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse"
_counter = itertools.count()


def pytest_report_header(config: Any) -> str:
    return f"helpdesk database backend: {BACKEND}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Any]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """A database migrated to head once; each test gets a copy of it."""
    if BACKEND == "postgresql":
        pg: Postgres = request.getfixturevalue("postgres")
        admin = create_engine(pg.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE helpdesk_template"))
        admin.dispose()
        engine = make_engine(pg.url("helpdesk_template"))
        upgrade(engine)
        engine.dispose()
        return "helpdesk_template"
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file we copy
    return str(path)


@pytest.fixture
def database_url(template_db: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if BACKEND == "postgresql":
        pg: Postgres = request.getfixturevalue("postgres")
        name = f"helpdesk_test_{os.getpid()}_{next(_counter)}"
        admin = create_engine(pg.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE {template_db}'))
        yield pg.url(name)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path / "helpdesk.sqlite"
        shutil.copyfile(template_db, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "RUN_MIGRATIONS": False,
        "TESTING": True,
        "BASE_URL": "http://localhost",
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(app_config)
    yield app
    db_of(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session on the test's database; tests commit what they set up."""
    s = db_of(app).sessions()
    yield s
    s.rollback()
    s.close()


def make_agent(app: Flask, email: str, role: str = "agent", name: str = "") -> Agent:
    with db_of(app).unit_of_work() as s:
        return accounts.create_agent(s, SYSTEM, email=email, password=PASSWORD, role=role,
                                     name=name or email.split("@")[0].title())


@pytest.fixture
def agent(app: Flask) -> Agent:
    return make_agent(app, "alice@example.com", "agent", "Alice Agent")


@pytest.fixture
def manager(app: Flask) -> Agent:
    return make_agent(app, "mary@example.com", "manager", "Mary Manager")


@pytest.fixture
def admin(app: Flask) -> Agent:
    return make_agent(app, "adam@example.com", "admin", "Adam Admin")


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    token = csrf_token(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def agent_client(client: FlaskClient, agent: Agent) -> FlaskClient:
    assert login(client, agent.email).status_code == 302
    return client


@pytest.fixture
def admin_client(client: FlaskClient, admin: Agent) -> FlaskClient:
    assert login(client, admin.email).status_code == 302
    return client


class LiveServer:
    def __init__(self, url: str, proc: subprocess.Popen[bytes], log: Path, database_url: str) -> None:
        self.url = url
        self.proc = proc
        self.log = log
        self.database_url = database_url

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_live_server(tmp_path: Path, database_url: str, env: dict[str, str] | None = None,
                      command: str = "run", args: tuple[str, ...] = ()) -> LiveServer:
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    environ = {**os.environ, "HELPDESK_DATABASE_URL": database_url, "HELPDESK_SECRET_KEY": "live-secret",
               "HELPDESK_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT),
               "HELPDESK_BASE_URL": f"http://127.0.0.1:{port}", "HELPDESK_WORKER_POLL_SECONDS": "0.2",
               # The worker child (nice 10) may take seconds for its first job on a loaded CI box:
               # tests that read the inbound answer's conversation_id wait for it rather than flake.
               "HELPDESK_EMAIL_INGEST_WAIT_SECONDS": "30",
               **(env or {})}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "helpdesk", *command.split(), *args, "--port", str(port)],
                                cwd=tmp_path, env=environ, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: port_open(port) or proc.poll() is not None, timeout=30, message="the server to listen")
    except TimeoutError:
        proc.kill()
        raise
    if proc.poll() is not None:
        raise RuntimeError(f"helpdesk {command} exited: {log.read_text()}")
    return LiveServer(f"http://127.0.0.1:{port}", proc, log, database_url)


def stop_live_server(server: LiveServer) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """`helpdesk run` as a subprocess on a free port, on the test's database."""
    server = start_live_server(tmp_path, database_url)
    yield server
    stop_live_server(server)


__all__ = [
    "PASSWORD",
    "csrf_token",
    "login",
    "make_agent",
    "start_live_server",
    "start_redis",
    "stop_live_server",
    "wait_until",
]


@pytest.fixture(autouse=True)
def hold_the_consoles_tick(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The consoles' tick reads its rows from the database 100 ms after a chat message: in this
    process it would land inside another test's statement count or plan capture (or read a
    database a finished test dropped). Tests that want the rows call relay.ROWS.flush(); live
    servers (their own processes) keep the real tick."""
    from helpdesk.chat import relay

    monkeypatch.setattr(relay, "ROW_TICK_SECONDS", 3600.0)
    relay.ROWS.clear()
    yield
    relay.ROWS.clear()


@pytest.fixture(autouse=True)
def parse_job_stand_in(request: pytest.FixtureRequest) -> None:
    """Inbound mail routes store the mail, queue its parse job and wait for the worker. The test
    app has no worker process: at the request's first pause the mail's parse job runs here, with
    the handler the worker runs (tests of the queued answer and the live worker replace this)."""
    if "app" not in request.fixturenames:
        return
    from helpdesk.runtime import runtime_of
    from helpdesk.tickets.email.webhooks import PAUSE_CAPABILITY

    app = request.getfixturevalue("app")
    runtime_of(app).provide(PAUSE_CAPABILITY, lambda inbound_id, _seconds: run_parse_job(app, inbound_id),
                            replace=True)


def run_parse_job(app: Flask, inbound_id: int) -> None:
    from sqlalchemy import select

    from helpdesk.db import utcnow
    from helpdesk.jobs import Job, JobState
    from helpdesk.runtime import runtime_of
    from helpdesk.tickets.email import ingest

    runtime = runtime_of(app)
    with runtime.db.unit_of_work() as s:
        job = s.scalar(select(Job).filter_by(dedupe_key=f"email-parse:{inbound_id}", state=JobState.queued))
        if job is None:
            return
        job.state = JobState.running
        job_id, payload = job.id, dict(job.payload)
    runtime.jobs.handler(ingest.PARSE_JOB)(runtime.context(), payload)
    with runtime.db.unit_of_work() as s:
        row = s.get(Job, job_id)
        row.state, row.finished_at = JobState.done, utcnow()
