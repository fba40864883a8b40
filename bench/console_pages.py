"""Benchmark: the console's pages and full-text search on a large database, next to a small one.

    python bench/console_pages.py                                  # 100,000 conversations, SQLite
    # The issue's size, built once (~10 min each on 2 cores), then measured as often as needed:
    python bench/console_pages.py --conversations 1000000 --keep /tmp/scale/big.sqlite --build-only
    python bench/console_pages.py --keep /tmp/scale/big.sqlite --reuse
    python bench/console_pages.py --conversations 1000000 --pgdata /tmp/scale/pg --build-only
    python bench/console_pages.py --pgdata /tmp/scale/pg --reuse   # a kept cluster, started and stopped
    python bench/console_pages.py --postgres                       # a throwaway PostgreSQL cluster
    python bench/console_pages.py --url postgresql+psycopg://... --reuse   # data already there
    python bench/console_pages.py --keep ... --reuse --only search # some pages only

Builds two databases with the same generator (a small one of --small conversations, 10,000 by
default, and the large one), logs an agent in through the Flask test client and prints the p50
and p95 server time (request in, HTML out; no network) of every queue tab with its counts, the
views, subject and message-text search, a conversation page, a customer's 360 page and the
customers list, each next to the same page on the small database. Then the full-text query alone
(the queue's search, one page) next to a plain LIKE scan over the same text, in the same run.
A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.crm.models import Customer
from helpdesk.db import make_engine
from helpdesk.migrations import upgrade
from helpdesk.tickets import queries, search
from helpdesk.tickets.models import Conversation, Inbox, Message
from helpdesk.tickets.sla.models import SlaPolicy

START = datetime(2025, 1, 1, tzinfo=UTC)
CHUNK = 10_000
PASSWORD = "violet tractor lampshade 42"
AGENTS = 20

WORDS = [
    "order", "parcel", "refund", "delivery", "tracking", "address", "invoice", "payment", "card",
    "discount", "voucher", "size", "colour", "return", "exchange", "broken", "damaged", "late",
    "missing", "wrong", "item", "shipping", "courier", "label", "package", "box", "thanks",
    "hello", "please", "help", "question", "account", "password", "login", "newsletter", "subscription",
    "stock", "available", "restock", "price", "sale", "warranty", "repair", "battery", "charger",
    "cable", "screen", "button", "zipper", "fabric", "cotton", "leather", "shoes", "jacket",
    "dress", "shirt", "trousers", "socks", "hat", "bag", "wallet", "watch", "ring",
]


def pseudo_words(rnd: random.Random, n: int) -> list[str]:
    syllables = ["ka", "lo", "mi", "nu", "te", "ra", "so", "vi", "pe", "du", "ba", "zo", "ge", "fi", "ha", "ju"]
    return ["".join(rnd.choice(syllables) for _ in range(rnd.randint(2, 4))) for _ in range(n)]


def _stamp(dialect: str, when: datetime | None) -> str | None:
    # The text each engine stores (SQLAlchemy's SQLite format, always with microseconds, so the
    # strings sort like the times; PostgreSQL's timestamptz input).
    if when is None:
        return None
    out = when.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return out if dialect == "sqlite" else out + "+00"


CONVERSATION_COLUMNS = ("id", "public_id", "ref", "inbox_id", "customer_id", "channel", "status", "priority",
                        "assignee_id", "subject", "created_at", "updated_at", "last_activity_at", "resolved_at",
                        "snoozed_until", "last_seq")
MESSAGE_COLUMNS = ("id", "public_id", "conversation_id", "seq", "author_type", "author_id", "author_name",
                   "private", "body_text", "meta", "created_at")


class _Loader:
    """Bulk rows straight to the driver: executemany on SQLite, COPY on PostgreSQL.

    The search triggers are off during the load; search_entries is filled from messages in one
    statement afterwards and the full-text index built once (FTS5 'rebuild', CREATE INDEX on
    PostgreSQL), which is what keeps 10,000,000 messages to minutes."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.raw = engine.raw_connection()
        self.conn = self.raw.driver_connection
        if self.dialect == "sqlite":
            self.conn.commit()
            for pragma in ("foreign_keys=OFF", "synchronous=OFF", "cache_size=-1000000", "secure_delete=OFF",
                           "temp_store=MEMORY"):
                self.conn.execute(f"PRAGMA {pragma}")
            for name in ("messages_search_ai", "search_entries_ai"):
                self.conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            with self.conn.cursor() as cur:
                cur.execute("DROP TRIGGER IF EXISTS messages_search ON messages")
                cur.execute("DROP INDEX IF EXISTS ix_search_entries_tsv")
            self.conn.commit()

    def rows(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(columns))
            self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            return
        with self.conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")  # no FK checks per row
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                copy.write("".join("\t".join("\\N" if v is None else str(v) for v in row) + "\n"
                                   for row in rows))
            cur.execute("SET session_replication_role = DEFAULT")

    def commit(self) -> None:
        self.conn.commit()

    def finish(self) -> None:
        header = (f"INSERT INTO search_entries (id, conversation_id, source, text) "
                  f"SELECT CAST(c.id AS BIGINT) * {search.SLOTS}, c.id, 'c', "
                  "c.subject || ' #' || c.ref || ' ' || coalesce(cu.name, '') || ' ' || "
                  "coalesce(cu.email, '') FROM conversations c JOIN customers cu ON cu.id = c.customer_id")
        # Every conversation under the one policy; the live ones (open, pending) due 8 hours after
        # their last activity, the others met.
        due = ("strftime('%Y-%m-%d %H:%M:%S', last_activity_at, '+8 hours') || '.000000'"
               if self.dialect == "sqlite" else "last_activity_at + interval '8 hours'")
        slas = ("INSERT INTO conversation_sla (conversation_id, policy_id, pauses, first_response_due_at, "
                f"next_due_at, check_at, updated_at) SELECT id, 1, '[]', {due}, "
                f"CASE WHEN status IN ('open', 'pending') THEN {due} END, "
                f"CASE WHEN status IN ('open', 'pending') THEN {due} END, last_activity_at FROM conversations")
        entries = ("INSERT INTO search_entries (id, conversation_id, message_id, source, text) "
                   f"SELECT CAST(conversation_id AS BIGINT) * {search.SLOTS} + seq, conversation_id, id, 'm', "
                   "body_text FROM messages ORDER BY id")
        started = time.perf_counter()
        if self.dialect == "sqlite":
            self.conn.execute(entries)
            self.conn.execute(header)
            self.conn.execute(slas)
            self.conn.commit()
            print(f"  search entries: {time.perf_counter() - started:.0f} s", flush=True)
            self.conn.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")
            for statement in search.SQLITE_DDL:
                if statement.startswith(("CREATE TRIGGER messages_search_ai", "CREATE TRIGGER search_entries_ai")):
                    self.conn.execute(statement)
            self.conn.commit()
            print(f"  full-text index: {time.perf_counter() - started:.0f} s", flush=True)
            self.conn.execute("ANALYZE")
            self.conn.commit()
        else:
            with self.conn.cursor() as cur:
                cur.execute("SET session_replication_role = replica")
                cur.execute(entries)
                cur.execute(header)
                cur.execute(slas)
                cur.execute("SET session_replication_role = DEFAULT")
                self.conn.commit()
                print(f"  search entries: {time.perf_counter() - started:.0f} s", flush=True)
                cur.execute("SET maintenance_work_mem = '1GB'")
                # Only the trigger and the index were dropped (the stored vector column was
                # filled as the entries went in).
                cur.execute(next(st for st in search.PG_DDL if st.startswith("CREATE TRIGGER")))
                cur.execute(search.PG_STORED_DDL[-1])
                for table in ("messages", "conversations", "customers"):
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"(SELECT max(id) FROM {table}))")
                self.conn.commit()
                print(f"  full-text index: {time.perf_counter() - started:.0f} s", flush=True)
                self.conn.autocommit = True
                cur.execute("VACUUM ANALYZE")
                self.conn.autocommit = False
        print(f"  analyzed: {time.perf_counter() - started:.0f} s", flush=True)
        self.raw.close()


def generate(engine: Any, count: int, per: int, seed: int = 1) -> None:
    """count conversations with on average `per` messages each, a year of history, ids in time order."""
    rnd = random.Random(seed)
    rare = pseudo_words(rnd, 5000)  # long tail: each word in ~2,000 messages at 10,000,000
    # Message bodies: a pool of support-vocabulary sentences, each message one of them plus a rare
    # word (and sometimes an order number): the same word frequencies as drawing every word, at a
    # fraction of the Python time at 10,000,000 messages.
    pool = [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 20))) for _ in range(50_000)]
    customers = max(100, count // 10)
    with engine.begin() as conn:
        conn.execute(insert(Inbox), [
            {"name": "Chat", "public_id": "ib_chat", "channel": "chat", "settings": {}, "auto_assign": False,
             "max_open_per_agent": 0, "created_at": START},
            {"name": "Mail", "public_id": "ib_mail", "channel": "email", "settings": {}, "auto_assign": False,
             "max_open_per_agent": 0, "created_at": START}])
        conn.execute(insert(SlaPolicy), [{"name": "Standard", "position": 0, "match": {},
                                          "first_response_minutes": 480, "created_at": START, "updated_at": START}])
        conn.execute(insert(Agent), [{"email": f"agent{i}@bench.example", "name": f"Agent {i:02d}",
                                      "public_id": f"ag_bench{i}", "password_hash": "x", "role": "agent",
                                      "active": True, "session_version": 1, "created_at": START}
                                     for i in range(AGENTS)])
        for lo in range(0, customers, CHUNK):
            conn.execute(insert(Customer), [
                {"public_id": f"cu_bench{i}", "email": f"shopper{i}@bench.example",
                 "name": f"{rnd.choice(rare).title()} {rnd.choice(rare).title()}", "notes": "",
                 "attributes": {}, "created_at": START, "updated_at": START}
                for i in range(lo, min(customers, lo + CHUNK))])
    loader = _Loader(engine)
    dialect = loader.dialect
    private = 0 if dialect == "sqlite" else "f"
    span = 365 * 86400
    done = 0
    message_id = 0
    started = time.perf_counter()
    while done < count:
        n = min(CHUNK * 5, count - done)
        convs, msgs = [], []
        for k in range(done + 1, done + n + 1):
            created = START + timedelta(seconds=int((k - 1) * span / count + rnd.uniform(0, 30)))
            # The newest conversations are the live ones: open, pending, snoozed; the rest resolved.
            age = (count - k) / count
            roll = rnd.random()
            status = ("open" if roll < 0.6 else "pending" if roll < 0.85 else "snoozed") if age < 0.05 else \
                ("open" if roll < 0.01 else "resolved")
            assignee = None if (status == "open" and rnd.random() < 0.3) else rnd.randrange(1, AGENTS + 1)
            chat = rnd.random() < 0.6
            roll = rnd.random()
            priority = "urgent" if roll < 0.01 else "high" if roll < 0.06 else "low" if roll < 0.16 else "normal"
            m = max(1, round(rnd.expovariate(1 / per))) if per > 1 else 1  # mean ≈ per
            last = created
            for seq in range(1, m + 1):
                message_id += 1
                last = last + timedelta(seconds=int(rnd.expovariate(1 / 600)) + 1)
                body = pool[rnd.randrange(50_000)] + " " + rare[rnd.randrange(5000)]
                if rnd.random() < 0.05:
                    body += f" order #{rnd.randrange(1000, 999_999)}"
                customer_side = seq % 2 == 1
                msgs.append((message_id, f"msg_b{message_id}", k, seq, "customer" if customer_side else "agent",
                             None if customer_side or assignee is None else assignee, "", private, body, "{}",
                             _stamp(dialect, last)))
            stamp = _stamp(dialect, last)
            convs.append((k, f"cv_b{k}", f"B{k:09d}", 1 if chat else 2, rnd.randrange(1, customers + 1),
                          "chat" if chat else "email", status, priority, assignee,
                          " ".join(rnd.choice(WORDS) for _ in range(4)), _stamp(dialect, created), stamp, stamp,
                          stamp if status == "resolved" else None,
                          _stamp(dialect, last + timedelta(days=2)) if status == "snoozed" else None, m))
        loader.rows("conversations", CONVERSATION_COLUMNS, convs)
        loader.rows("messages", MESSAGE_COLUMNS, msgs)
        loader.commit()
        done += n
        print(f"\r  inserted {done:,} conversations, {message_id:,} messages "
              f"({time.perf_counter() - started:.0f} s)", end="", flush=True)
    print()
    loader.finish()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def measure(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    fn()  # warm: caches, compiled statements, templates
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), percentile(times, 0.95)


class Target:
    """One database with the app on it and a logged-in agent."""

    def __init__(self, url: str, count: int, per: int, reuse: bool, workdir: Path, label: str,
                 login: bool = True) -> None:
        import logging

        from helpdesk import create_app, db_of
        from helpdesk.accounts import services as accounts
        from helpdesk.actors import SYSTEM

        logging.getLogger("alembic").setLevel(logging.WARNING)
        self.label = label
        self.engine = make_engine(url)
        started = time.perf_counter()
        upgrade(self.engine)
        if not reuse:
            generate(self.engine, count, per)
        with self.engine.connect() as conn:
            self.conversations = conn.scalar(text("SELECT count(*) FROM conversations")) or 0
            self.messages = conn.scalar(text("SELECT count(*) FROM messages")) or 0
        print(f"{label}: {self.conversations:,} conversations, {self.messages:,} messages "
              f"({time.perf_counter() - started:.0f} s to build)", flush=True)
        if not login:
            self.app = None
            return
        self.app = create_app({"INSTANCE_PATH": str(workdir / f"instance-{label}"), "DATABASE_URL": url,
                               "SECRET_KEY": "bench", "RUN_MIGRATIONS": False, "TESTING": True,
                               "BASE_URL": "http://localhost", "WTF_CSRF_ENABLED": False})
        with db_of(self.app).unit_of_work() as s:
            me = s.scalar(select(Agent).filter_by(email="bench@bench.example"))
            if me is None:
                me = accounts.create_agent(s, SYSTEM, email="bench@bench.example", password=PASSWORD,
                                           role="manager", name="Bench Manager")
            # The bench agent holds some of the open work, so "Mine" has rows.
            s.execute(text("UPDATE conversations SET assignee_id = :me WHERE id IN (SELECT id FROM conversations "
                           "WHERE status = 'open' ORDER BY id DESC LIMIT 200)"), {"me": me.id})
        self.client = self.app.test_client()
        self._login()
        self.db = db_of(self.app)
        with self.db.unit_of_work() as s:
            newest = s.scalars(select(Conversation).order_by(Conversation.id.desc()).limit(50)).all()
            self.conversation_ids = [c.public_id for c in newest]
            self.customer_ids = [c.customer.public_id for c in newest]
            self.rare = [w for w in s.scalars(select(Message.body_text).order_by(Message.id.desc()).limit(20))]
            self.refs = [c.ref for c in newest[:10]]

    def _login(self) -> None:
        import re

        html = self.client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        data = {"email": "bench@bench.example", "password": PASSWORD}
        if token:
            data["csrf_token"] = token.group(1)
        response = self.client.post("/login", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    def get(self, path: str) -> Callable[[], None]:
        def call() -> None:
            response = self.client.get(path)
            assert response.status_code == 200, (path, response.status_code)
        return call

    def rotating(self, paths: list[str]) -> Callable[[], None]:
        state = {"i": 0}

        def call() -> None:
            state["i"] += 1
            self.get(paths[state["i"] % len(paths)])()
        return call

    def pages(self) -> dict[str, Callable[[], None]]:
        rare_words = [body.split()[-1] for body in self.rare]  # words of the newest messages
        text_words = []
        for body in self.rare:
            text_words += [w for w in body.split() if w not in WORDS and w.isalpha()][:1]
        out = {f"queue all/{s}": self.get(f"/console?view=all&status={s}")
               for s in ("open", "pending", "snoozed", "resolved")}
        out["queue mine/open"] = self.get("/console?view=mine&status=open")
        out["queue unassigned/open"] = self.get("/console?view=unassigned&status=open")
        out["queue all/open, older page"] = self._older_page()
        for sort in ("newest", "oldest", "waiting", "priority", "due"):  # queue_sorts.py and the SLA's
            for tab in ("open", "resolved"):
                out[f"queue all/{tab} sort={sort}"] = self.get(f"/console?view=all&status={tab}&sort={sort}")
        out["search: subject word (common)"] = self.get("/console?view=all&q=refund")
        out["search: message word (rare)"] = self.rotating([f"/console?view=all&q={w}"
                                                            for w in text_words or rare_words])
        out["search: #REF"] = self.rotating([f"/console?view=all&q=%23{r}" for r in self.refs])
        out["search: two words"] = self.get("/console?view=all&q=broken+charger")
        out["conversation page"] = self.rotating([f"/console/c/{c}" for c in self.conversation_ids])
        out["customer 360"] = self.rotating([f"/console/customers/{c}" for c in self.customer_ids])
        out["customers list"] = self.get("/console/customers")
        return out

    def _older_page(self) -> Callable[[], None]:
        import re

        html = self.client.get("/console?view=all&status=resolved").get_data(as_text=True)
        cursor = re.search(r'cursor=([\w-]+)', html)
        return self.get(f"/console?view=all&status=resolved&cursor={cursor.group(1)}" if cursor else
                        "/console?view=all&status=resolved")

    def search_queries(self) -> dict[str, Callable[[], None]]:
        words = []
        for body in self.rare:
            words += [w for w in body.split() if w not in WORDS and w.isalpha()][:1]
        state = {"i": 0}

        def fts() -> None:
            state["i"] += 1
            with Session(self.engine) as s:
                queries.list_conversations(s, search=words[state["i"] % len(words)], limit=25, newest_first=True)

        def like() -> None:
            state["i"] += 1
            with Session(self.engine) as s:
                q = select(Conversation.id).where(search.like_condition(words[state["i"] % len(words)]))
                list(s.scalars(q.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc()).limit(25)))

        def fts_common() -> None:
            with Session(self.engine) as s:
                queries.list_conversations(s, search="refund", limit=25, newest_first=True)

        def like_common() -> None:
            with Session(self.engine) as s:
                q = select(Conversation.id).where(search.like_condition("refund"))
                list(s.scalars(q.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc()).limit(25)))

        return {"full-text, rare word": fts, "LIKE scan, rare word": like,
                "full-text, common word": fts_common, "LIKE scan, common word": like_common}

    def close(self) -> None:
        self.engine.dispose()
        from helpdesk import db_of

        if self.app is not None:
            db_of(self.app).dispose()


def kept_postgres(folder: Path) -> tuple[str, Callable[[], None]]:
    """A PostgreSQL cluster in `folder`, created on first use and kept (data survives stop)."""
    import os
    import pwd
    import subprocess

    from tests.servers import _pg_bin, free_port

    bindir = _pg_bin()
    data = folder / "data"
    as_user: list[str] = []
    role = pwd.getpwuid(os.getuid()).pw_name
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user, role = ["runuser", "-u", "postgres", "--"], "postgres"
    if not (data / "PG_VERSION").exists():
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", role,
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    port = free_port()
    # Durable settings off (a bench, rebuilt if lost); 1 GB of shared buffers, as a shop with
    # 10,000,000 messages would give it.
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "start",
                    "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                          "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=1GB "
                          "-c maintenance_work_mem=1GB"],
                   check=True, capture_output=True)

    def stop() -> None:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)

    return f"postgresql+psycopg://{role}@127.0.0.1:{port}/", stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=10, help="messages per conversation, on average")
    parser.add_argument("--small", type=int, default=10_000, help="the baseline database's size")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--url", help="the large database (default: a SQLite file in a temporary folder)")
    parser.add_argument("--small-url", help="the small database (default: next to the large one)")
    parser.add_argument("--keep", help="SQLite file for the large database, kept after the run")
    parser.add_argument("--reuse", action="store_true", help="the large database already holds the data")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL cluster")
    parser.add_argument("--pgdata", help="PostgreSQL: a kept cluster in this folder (created on first use); "
                                         "its database bench_large is built once, then --reuse it")
    parser.add_argument("--build-only", action="store_true", help="build the large database and stop")
    parser.add_argument("--only", help="measure only the pages whose name contains this")
    parser.add_argument("--skip-like", action="store_true", help="leave out the LIKE baseline (slow at 1M)")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="helpdesk-pages-")
    work = Path(tmp.name)
    if args.keep and not args.reuse:
        for leftover in Path(args.keep).parent.glob(Path(args.keep).name + "*"):  # with its -wal, -shm
            leftover.unlink()
    large_url = args.url or f"sqlite:///{args.keep or work / 'large.sqlite'}"
    small_url = args.small_url or f"sqlite:///{work / 'small.sqlite'}"
    stop: Callable[[], None] | None = None
    if args.postgres or args.pgdata:
        if args.pgdata:
            base, stop = kept_postgres(Path(args.pgdata))
        else:
            from tests.servers import start_postgres

            server = start_postgres()
            base, stop = server.url_base, server.stop
        with make_engine(base + "postgres").connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("DROP DATABASE IF EXISTS bench_small"))
            conn.execute(text("CREATE DATABASE bench_small"))
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = 'bench_large'")):
                conn.execute(text("CREATE DATABASE bench_large"))
            elif not args.reuse:
                conn.execute(text("DROP DATABASE bench_large"))
                conn.execute(text("CREATE DATABASE bench_large"))
        large_url, small_url = base + "bench_large", base + "bench_small"
    try:
        if args.build_only:
            Target(large_url, args.conversations, args.messages, args.reuse, work, "large", login=False).close()
        else:
            run(args, large_url, small_url, work)
    finally:
        if stop is not None:
            stop()
        tmp.cleanup()


def run(args: argparse.Namespace, large_url: str, small_url: str, work: Path) -> None:
    small = Target(small_url, args.small, args.messages, False, work, "small")
    large = Target(large_url, args.conversations, args.messages, args.reuse, work, "large")
    print(f"\nengine: {large.engine.dialect.name}; {args.runs} runs per figure; ms, server time (test client)")
    print(f"{'page':<34} {'small p50':>10} {'p95':>8}   {'large p50':>10} {'p95':>8}")
    small_pages, large_pages = small.pages(), large.pages()
    for name in large_pages:
        if args.only and args.only not in name:
            continue
        s50, s95 = measure(small_pages[name], args.runs)
        l50, l95 = measure(large_pages[name], args.runs)
        print(f"{name:<34} {s50:>10.1f} {s95:>8.1f}   {l50:>10.1f} {l95:>8.1f}", flush=True)
    print("\nthe search query alone (one page of 25 rows, as the console asks: newest first)")
    small_q, large_q = small.search_queries(), large.search_queries()
    for name in large_q:
        if args.only and args.only not in name:
            continue
        if args.skip_like and name.startswith("LIKE"):
            continue
        runs = args.runs if not name.startswith("LIKE") else max(3, args.runs // 4)
        s50, s95 = measure(small_q[name], runs)
        l50, l95 = measure(large_q[name], runs)
        print(f"{name:<34} {s50:>10.1f} {s95:>8.1f}   {l50:>10.1f} {l95:>8.1f}", flush=True)
    small.close()
    large.close()


if __name__ == "__main__":
    main()
