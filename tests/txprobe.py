"""Is a transaction open while a job talks to the outside world? Fake servers call `check()` from
inside a request: on SQLite another connection must be able to take the write lock at that
moment; on PostgreSQL no connection of the test database may sit idle in a transaction."""

from __future__ import annotations

import sqlite3
import threading

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool


class WriteProbe:
    def __init__(self, database_url: str, wait_seconds: float = 0.5) -> None:
        self.url = make_url(database_url)
        self.wait_seconds = wait_seconds
        self.results: list[str] = []  # "free", or what held the database
        self._lock = threading.Lock()

    def check(self) -> None:
        outcome = self._sqlite() if self.url.get_backend_name() == "sqlite" else self._postgres()
        with self._lock:
            self.results.append(outcome)

    def _sqlite(self) -> str:
        conn = sqlite3.connect(self.url.database or "", timeout=self.wait_seconds, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")  # what any writer (an agent's reply) needs
            conn.execute("ROLLBACK")
            return "free"
        except sqlite3.OperationalError as exc:
            return f"write lock held: {exc}"
        finally:
            conn.close()

    def _postgres(self) -> str:
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                open_transactions = conn.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"))
            return "free" if not open_transactions else f"{open_transactions} transaction(s) open"
        finally:
            engine.dispose()

    def assert_never_held(self) -> None:
        assert self.results, "the probe never ran: no request reached the fake server"
        held = [r for r in self.results if r != "free"]
        assert not held, f"a transaction was open during {len(held)} of {len(self.results)} HTTP calls: {held[:3]}"
