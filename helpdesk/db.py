"""Declarative base, UTC datetimes, the engine and units of work."""

from __future__ import annotations

import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Always aware UTC in Python; stored naive-UTC on SQLite, timestamptz on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


# INTEGER columns (ids, seq) are 32-bit on PostgreSQL: a bigger number from a client in a query
# is a database error there (and an OverflowError in SQLite past 2**63), so inputs stop here.
MAX_INT = 2**31 - 1


def public_id(prefix: str) -> str:
    """An opaque id for URLs: never a row number, and 128 random bits (some, like an upload's,
    are all that stands between a guesser and a file)."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


SQLITE_BUSY_SECONDS = 30.0  # default of the SQLITE_BUSY_SECONDS setting
SQLITE_MAX_OVERFLOW = 200


def cooperative() -> bool:
    """True in a process where gevent patched threads and sleeps (`helpdesk run`, `helpdesk worker`)."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("threading"))


def make_engine(url: str, busy_seconds: float = SQLITE_BUSY_SECONDS, write_gap: float = 0.0) -> Engine:
    if url.startswith("sqlite"):
        # Under gevent, SQLite's own wait for another process's write lock (busy_timeout) sleeps
        # in C and freezes every greenlet of the process; there it is 0 and we wait in Python,
        # with sleeps that yield (_retry_busy). Elsewhere SQLite may wait itself.
        yielding = cooperative()
        busy_ms = 0 if yielding else int(busy_seconds * 1000)
        # Each greenlet waiting its turn for the write lock holds a pooled connection: after a
        # stall hundreds may queue up, and the default pool (5 + 10) would fail them all after 30 s
        # with a pool timeout. SQLite connections are cheap file handles: allow many.
        # LIFO: the connection used last is warm. In WAL mode a connection drops its whole page
        # cache when it begins a transaction after another connection wrote; handed out in turn
        # (the pool's default FIFO), every chat message began on a cold cache (bench/README.md).
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
                               pool_size=10, max_overflow=SQLITE_MAX_OVERFLOW, pool_timeout=busy_seconds,
                               pool_use_lifo=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers of other processes run beside the one writer. We issue BEGIN
            # IMMEDIATE ourselves: a deferred transaction that reads and then writes fails at
            # once with SQLITE_BUSY when another writer got in between, instead of waiting.
            dbapi_conn.isolation_level = None
            dbapi_conn.execute(f"PRAGMA busy_timeout={busy_ms}")
            _retry_busy(lambda: dbapi_conn.execute("PRAGMA journal_mode=WAL"), time.monotonic() + busy_seconds)
            dbapi_conn.execute("PRAGMA foreign_keys=ON")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten with zeros, not left in free pages: a GDPR erase must not
            # leave the raw mail readable in the database file.
            dbapi_conn.execute("PRAGMA secure_delete=ON")

        _serialise_writers(engine, busy_seconds, write_gap)
        return engine
    # JIT off: PostgreSQL compiled the full-text probes (their cost estimate crosses jit_above_cost
    # at 10,000,000 messages) for ~60 ms a query, more than the query. The app's statements are
    # index ranges a page long; a long reporting query loses little without it.
    connect_args = {"options": "-c jit=off"} if url.startswith("postgresql") else {}
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args)


SQLITE_WRITE_WAIT_SECONDS = SQLITE_BUSY_SECONDS  # the old name


class DatabaseBusy(Exception):
    """The SQLite write lock stayed taken (by this or another process) for longer than allowed."""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) \
        or "database is locked" in str(exc)


def _retry_busy(statement: Callable[[], Any], deadline: float) -> None:
    """Run `statement` until SQLite stops answering SQLITE_BUSY or the deadline passes.

    time.sleep is gevent's in the web process, so the other greenlets run while we wait; the
    delay grows to 2 ms only: a lock freed by another process between two of its transactions is
    free for a few ms at most (see write_gap), and a longer nap missed it (chat messages waited
    50-86 ms behind a worker's run of short writes, bench/stall.py).
    """
    delay = 0.001
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise DatabaseBusy("the database stayed busy (another process holds its write lock)") from exc
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.002)


READ_ONLY = "helpdesk_read_only"  # execution option: a plain deferred BEGIN, no write lock

# What a read-only transaction may send; anything else is a write (or DDL) and is refused.
_READ_VERBS = ("SELECT", "WITH", "PRAGMA", "EXPLAIN", "SHOW", "SAVEPOINT", "RELEASE", "ROLLBACK")


class ReadOnlyWrite(RuntimeError):
    """A statement that writes was sent in a read-only transaction (a GET request's).

    On SQLite such a transaction holds no write lock, so its write would fail at random with
    SQLITE_BUSY whenever another process writes: a bug to fix where it is found, never retried.
    """


def _refuse_writes(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _check(conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        if conn.get_execution_options().get(READ_ONLY) and not statement.lstrip().upper().startswith(_READ_VERBS):
            raise ReadOnlyWrite("a read-only transaction (a GET request's) tried to write: write in a unit of "
                                f"work of its own, or mark the view web.writes_on_get: {statement[:80]!r}")


def _serialise_writers(engine: Engine, busy_seconds: float, write_gap: float = 0.0) -> None:
    """Queue this process's SQLite transactions on a Python lock before BEGIN IMMEDIATE.

    SQLite's own wait (busy_timeout) blocks in C: under gevent that freezes every greenlet,
    including the one holding the lock, which then cannot finish (a whole-process stall until the
    timeout). The Python lock is patched by gevent, so a waiting greenlet yields instead. Other
    processes (the worker) are met with SQLITE_BUSY and a retry loop whose sleeps yield too.
    Both waits share one deadline; past it the caller gets DatabaseBusy.

    `write_gap` (the job worker's): this process's next write transaction begins at least that long
    after its last one ended, so a web process polling for the lock gets in between two of a job's
    short writes instead of waiting out the whole run of them.
    """
    lock = threading.RLock()
    last_end = [0.0]

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        raw = conn.connection.dbapi_connection
        if conn.get_execution_options().get(READ_ONLY):
            # A WAL reader needs no lock: a health check must answer while a job writes.
            raw.execute("BEGIN")
            return
        deadline = time.monotonic() + busy_seconds
        if write_gap:
            wait = last_end[0] + write_gap - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        if not lock.acquire(timeout=busy_seconds):
            raise DatabaseBusy(f"the database stayed busy for {busy_seconds:.0f} s")
        try:
            _retry_busy(lambda: raw.execute("BEGIN IMMEDIATE"), deadline)
        except BaseException:
            lock.release()
            raise
        conn.info["helpdesk.write_lock"] = True

    def _end(conn: Any) -> None:
        # Fired just before COMMIT/ROLLBACK runs; nothing can yield in between.
        if conn.info.pop("helpdesk.write_lock", False):
            last_end[0] = time.monotonic()
            lock.release()

    event.listen(engine, "commit", _end)
    event.listen(engine, "rollback", _end)


class Database:
    """One engine and its session factory per app."""

    def __init__(self, url: str, dispatcher: Any = None, busy_seconds: float = SQLITE_BUSY_SECONDS,
                 write_gap: float = 0.0) -> None:
        self.url = url
        self.engine = make_engine(url, busy_seconds, write_gap)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False,
                                     info={"dispatcher": dispatcher})
        _refuse_writes(self.engine)
        # Sessions whose transactions only read: on SQLite a deferred BEGIN (a WAL snapshot, no
        # write lock), so a page view never queues behind, or holds up, a writer of any process.
        self.reader = self.engine.execution_options(**{READ_ONLY: True})

    def reading(self) -> Session:
        return self.sessions(bind=self.reader, info={"read_only": True})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """Commit on success, roll back on error; events dispatch after the commit."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
