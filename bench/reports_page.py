"""Benchmark: the whole reports page (every panel) on 1,000,000 conversations, next to 10,000.

    python bench/reports_page.py                       # SQLite files under /tmp/rollups/
    python bench/reports_page.py --postgres            # a PostgreSQL cluster kept in /tmp/rollups/pg
    python bench/reports_page.py --reuse               # time again on the databases already built
    python bench/reports_page.py --no-rollups          # the live queries only (the baseline)
    python bench/reports_page.py --conversations 200000 --runs 5   # smaller

Builds (or with --reuse, keeps) two databases with bench/reports.py's generator, ending today:
a small one (--small, 10,000 conversations) and the large one, each with --messages messages per
conversation (the first the agent's reply, then customer and agent in turn, added in SQL). Then
builds the daily rollups (`helpdesk reports rebuild-rollups`, timed), logs a manager in through the
Flask test client and prints p50 and p95 server time (request in, HTML out; no network) of
GET /reports for the last 30 days and for the last 365 days, on both databases, in the same run.
The PostgreSQL cluster is stopped at the end and its data folder kept for the next --reuse.
A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import logging
import os
import pwd
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text

from bench.reports import generate
from helpdesk.accounts.models import Agent
from helpdesk.db import make_engine
from helpdesk.migrations import upgrade

PASSWORD = "violet tractor lampshade 42"
WORKDIR = Path(os.environ.get("ROLLUPS_BENCH_DIR", "/tmp/rollups"))
BATCH = 50_000


def add_messages(engine: Any, per: int) -> None:
    """Messages 2..per of every conversation, in SQL (ten million rows from Python would take
    longer than the rest of the run): customer and agent in turn, public, at the first reply."""
    if per < 2:
        return
    numbers = " UNION ALL ".join(f"SELECT {n} AS n" for n in range(2, per + 1))
    with engine.connect() as conn:
        top = conn.scalar(text("SELECT max(id) FROM conversations")) or 0
    for lo in range(1, top + 1, BATCH):
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO messages (conversation_id, seq, public_id, author_type, author_id, author_name, "
                "private, body_text, meta, created_at) "
                "SELECT c.id, s.n, 'msg_b' || c.id || '_' || s.n, "
                "CASE WHEN s.n % 2 = 0 THEN 'customer' ELSE 'agent' END, "
                "CASE WHEN s.n % 2 = 0 THEN NULL ELSE c.assignee_id END, '', false, 'Thanks, that helps', "
                f"'{{}}', c.first_response_at FROM conversations c CROSS JOIN ({numbers}) s "
                "WHERE c.id BETWEEN :lo AND :hi"), {"lo": lo, "hi": lo + BATCH - 1})
            conn.execute(text("UPDATE conversations SET last_seq = :per WHERE id BETWEEN :lo AND :hi"),
                         {"per": per, "lo": lo, "hi": lo + BATCH - 1})
        print(f"\r  messages for {min(top, lo + BATCH - 1):,} conversations", end="", flush=True)
    print()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('messages', 'id'), "
                              "(SELECT max(id) FROM messages))"))
            conn.execute(text("SELECT setval(pg_get_serial_sequence('conversations', 'id'), "
                              "(SELECT max(id) FROM conversations))"))
        conn.execute(text("ANALYZE"))


def kept_postgres(root: Path) -> tuple[str, Callable[[], None]]:
    """A cluster whose data folder outlives the run (initdb the first time), on a free port."""
    from tests.servers import _pg_bin, free_port

    bindir, data = _pg_bin(), root / "data"
    as_user: list[str] = []
    role = pwd.getpwuid(os.getuid()).pw_name
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user, role = ["runuser", "-u", "postgres", "--"], "postgres"
    if not data.exists():
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", role,
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    port = free_port()
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "start",
                    "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                          "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB"],
                   check=True, capture_output=True)

    def stop() -> None:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)

    return f"postgresql+psycopg://{role}@127.0.0.1:{port}/", stop


def fresh_database(base: str, name: str, *, keep: bool) -> None:
    """Create the database (dropping it first unless `keep`)."""
    from sqlalchemy import create_engine

    engine = create_engine(base + "postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not keep:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def load() -> str:
    return Path("/proc/loadavg").read_text().strip()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


class Target:
    """One database with the app on it and a logged-in manager."""

    def __init__(self, url: str, count: int, per: int, reuse: bool, label: str, rollups: bool) -> None:
        from helpdesk import create_app, db_of
        from helpdesk.accounts import services as accounts
        from helpdesk.actors import SYSTEM

        self.label = label
        self.engine = make_engine(url)
        started = time.perf_counter()
        upgrade(self.engine)
        today = datetime.now(UTC).date()
        with self.engine.connect() as conn:
            present = conn.scalar(text("SELECT count(*) FROM conversations")) or 0
        if not reuse or not present:
            # A year of history up to now, so that today's figures come from live rows.
            generate(self.engine, count, start=datetime.combine(today - timedelta(days=364), dtime(), UTC))
            add_messages(self.engine, per)
        with self.engine.connect() as conn:
            self.conversations = conn.scalar(text("SELECT count(*) FROM conversations")) or 0
            self.messages = conn.scalar(text("SELECT count(*) FROM messages")) or 0
            self.surveys = conn.scalar(text("SELECT count(*) FROM csat_surveys")) or 0
        print(f"{label}: {self.conversations:,} conversations, {self.messages:,} messages, "
              f"{self.surveys:,} surveys ({time.perf_counter() - started:.0f} s to build or open)", flush=True)
        self.app = create_app({"INSTANCE_PATH": str(WORKDIR / f"instance-{label}"), "DATABASE_URL": url,
                               "SECRET_KEY": "bench", "RUN_MIGRATIONS": False, "TESTING": True,
                               "BASE_URL": "http://localhost", "WTF_CSRF_ENABLED": False})
        self.db = db_of(self.app)
        with self.db.unit_of_work() as s:
            if s.scalar(select(Agent).filter_by(email="bench@bench.example")) is None:
                accounts.create_agent(s, SYSTEM, email="bench@bench.example", password=PASSWORD,
                                      role="manager", name="Bench Manager")
        if rollups:
            from helpdesk.reports import rollups as rollup_service

            started = time.perf_counter()
            with self.db.unit_of_work() as s:
                rollup_service.clear(s)
            with self.db.unit_of_work() as s:
                days = rollup_service.build(s, self.app.config["REPORTS_TIMEZONE"])
            print(f"{label}: built the rollups of {days} days in {time.perf_counter() - started:.1f} s", flush=True)
        else:
            from sqlalchemy import inspect

            if inspect(self.engine).has_table("report_days"):
                from helpdesk.reports import rollups as rollup_service

                with self.db.unit_of_work() as s:
                    rollup_service.clear(s)
        self.client = self.app.test_client()
        self._login()
        self.today = today

    def _login(self) -> None:
        html = self.client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        data = {"email": "bench@bench.example", "password": PASSWORD}
        if token:
            data["csrf_token"] = token.group(1)
        response = self.client.post("/login", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    def page(self, days: int, table: str = "agent") -> Callable[[], None]:
        first: date = self.today - timedelta(days=days - 1)
        path = f"/reports?from={first.isoformat()}&to={self.today.isoformat()}&table={table}"

        def call() -> None:
            response = self.client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            assert b'data-kpi="created"' in response.data
        return call

    def close(self) -> None:
        self.db.dispose()
        self.engine.dispose()


def measure(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    fn()  # warm: caches, compiled statements, templates
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), percentile(times, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000, help="the baseline database's size")
    parser.add_argument("--messages", type=int, default=10, help="messages per conversation")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="keep the data already in the databases")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL (a cluster kept in /tmp/rollups/pg)")
    parser.add_argument("--no-rollups", action="store_true", help="drop the rollups: live queries only")
    parser.add_argument("--build-only", action="store_true", help="build the databases (and rollups), time nothing")
    parser.add_argument("--profile", action="store_true", help="cProfile one page on the large database")
    parser.add_argument("--profile-days", type=int, default=365)
    args = parser.parse_args()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    WORKDIR.mkdir(parents=True, exist_ok=True)
    stop: Callable[[], None] | None = None
    if args.postgres:
        base, stop = kept_postgres(WORKDIR / "pg")
        for name in ("small", "large"):
            fresh_database(base, name, keep=args.reuse)
        urls = {"small": base + "small", "large": base + "large"}
    else:
        files = {name: WORKDIR / f"{name}.sqlite" for name in ("small", "large")}
        if not args.reuse:
            for path in files.values():
                for extra in ("", "-wal", "-shm"):
                    Path(f"{path}{extra}").unlink(missing_ok=True)
        urls = {name: f"sqlite:///{path}" for name, path in files.items()}
    try:
        targets = [Target(urls["small"], args.small, args.messages, args.reuse, "small", not args.no_rollups),
                   Target(urls["large"], args.conversations, args.messages, args.reuse, "large",
                          not args.no_rollups)]
        if args.profile:
            import cProfile
            import pstats

            page = targets[1].page(args.profile_days)
            page()
            profiler = cProfile.Profile()
            profiler.runcall(page)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        if args.build_only or args.profile:
            return
        mode = "live queries only" if args.no_rollups else "with rollups"
        print(f"\n{'/reports, ' + mode:<40} {'p50 ms':>9} {'p95 ms':>9}   "
              f"{'(10k) p50':>9} {'p95':>7}   load {load()}")
        for label, days, table in [("30 days", 30, "agent"), ("365 days", 365, "agent"),
                                   ("365 days, table by channel", 365, "channel")]:
            small = measure(targets[0].page(days, table), args.runs)
            large = measure(targets[1].page(days, table), args.runs)
            print(f"{label:<40} {large[0]:9.0f} {large[1]:9.0f}   {small[0]:9.0f} {small[1]:7.0f}", flush=True)
        print(f"load average after: {load()}")
        for t in targets:
            t.close()
    finally:
        if stop is not None:
            stop()


if __name__ == "__main__":
    main()
