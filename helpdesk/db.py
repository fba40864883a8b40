"""Declarative base, UTC datetimes, the engine and units of work."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
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


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers of other processes run beside the one writer. We issue BEGIN
            # IMMEDIATE ourselves: a deferred transaction that reads and then writes fails at
            # once with SQLITE_BUSY when another writer got in between, instead of waiting.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten with zeros, not left in free pages: a GDPR erase must not
            # leave the raw mail readable in the database file.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        _serialise_writers(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


SQLITE_WRITE_WAIT_SECONDS = 30.0


class DatabaseBusy(Exception):
    """Another transaction of this process held the SQLite write lock for too long."""


def _serialise_writers(engine: Engine) -> None:
    """Queue this process's SQLite transactions on a Python lock before BEGIN IMMEDIATE.

    SQLite's own wait (busy_timeout) blocks in C: under gevent that freezes every greenlet,
    including the one holding the lock, which then cannot finish (a whole-process stall until the
    timeout). The Python lock is patched by gevent, so a waiting greenlet yields instead. Other
    processes (a separate `helpdesk worker`) still meet each other in SQLite's busy_timeout.
    """
    lock = threading.RLock()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        if not lock.acquire(timeout=SQLITE_WRITE_WAIT_SECONDS):
            raise DatabaseBusy(f"the database stayed busy for {SQLITE_WRITE_WAIT_SECONDS:.0f} s")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            lock.release()
            raise
        conn.info["helpdesk.write_lock"] = True

    def _end(conn: Any) -> None:
        # Fired just before COMMIT/ROLLBACK runs; nothing can yield in between.
        if conn.info.pop("helpdesk.write_lock", False):
            lock.release()

    event.listen(engine, "commit", _end)
    event.listen(engine, "rollback", _end)


class Database:
    """One engine and its session factory per app."""

    def __init__(self, url: str, dispatcher: Any = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False,
                                     info={"dispatcher": dispatcher})

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
