"""Benchmark: the console's pages and full-text search on a large database, next to a small one.

    python bench/console_pages.py                                  # 100,000 conversations, SQLite
    python bench/console_pages.py --conversations 1000000 --messages 10   # the issue's size
    python bench/console_pages.py --postgres                       # a throwaway PostgreSQL cluster
    python bench/console_pages.py --url postgresql+psycopg://... --reuse   # data already there
    python bench/console_pages.py --keep /tmp/big.sqlite           # build once, then --reuse it

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


def generate(engine: Any, count: int, per: int, seed: int = 1) -> None:
    """count conversations with on average `per` messages each, a year of history, ids in time order."""
    rnd = random.Random(seed)
    rare = pseudo_words(rnd, 5000)  # long tail: each word in a few hundred messages at 1M
    customers = max(100, count // 10)
    with engine.begin() as conn:
        conn.execute(insert(Inbox), [
            {"name": "Chat", "public_id": "ib_chat", "channel": "chat", "settings": {}, "auto_assign": False,
             "max_open_per_agent": 0, "created_at": START},
            {"name": "Mail", "public_id": "ib_mail", "channel": "email", "settings": {}, "auto_assign": False,
             "max_open_per_agent": 0, "created_at": START}])
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
    span = 365 * 86400
    done = 0
    message_id = 0
    while done < count:
        n = min(CHUNK, count - done)
        convs, msgs = [], []
        for k in range(done + 1, done + n + 1):
            created = START + timedelta(seconds=(k - 1) * span / count + rnd.uniform(0, 30))
            # The newest conversations are the live ones: open, pending, snoozed; the rest resolved.
            age = (count - k) / count
            roll = rnd.random()
            status = ("open" if roll < 0.6 else "pending" if roll < 0.85 else "snoozed") if age < 0.05 else \
                ("open" if roll < 0.01 else "resolved")
            assignee = None if (status == "open" and rnd.random() < 0.3) else rnd.randrange(1, AGENTS + 1)
            chat = rnd.random() < 0.6
            m = max(1, int(rnd.expovariate(1 / per))) if per > 1 else 1
            last = created
            for seq in range(1, m + 1):
                message_id += 1
                last = last + timedelta(seconds=int(rnd.expovariate(1 / 600)) + 1)
                words = [rnd.choice(WORDS) for _ in range(rnd.randint(6, 20))] + [rnd.choice(rare)]
                if rnd.random() < 0.05:
                    words.append(f"order #{rnd.randrange(1000, 999_999)}")
                rnd.shuffle(words)
                customer_side = seq % 2 == 1
                msgs.append({"id": message_id, "conversation_id": k, "seq": seq, "public_id": f"msg_b{message_id}",
                             "author_type": "customer" if customer_side else "agent",
                             "author_id": None if customer_side else assignee, "author_name": "",
                             "private": False, "body_text": " ".join(words), "meta": {}, "created_at": last})
            convs.append({"id": k, "public_id": f"cv_b{k}", "ref": f"B{k:09d}", "inbox_id": 1 if chat else 2,
                          "customer_id": rnd.randrange(1, customers + 1), "channel": "chat" if chat else "email",
                          "status": status, "priority": "normal", "assignee_id": assignee, "team_id": None,
                          "subject": " ".join(rnd.choice(WORDS) for _ in range(4)), "created_at": created,
                          "updated_at": last, "last_activity_at": last, "first_response_at": None,
                          "resolved_at": last if status == "resolved" else None, "last_seq": m})
        with engine.begin() as conn:
            conn.execute(Conversation.__table__.insert(), convs)
            conn.execute(Message.__table__.insert(), msgs)  # the search triggers index them
        done += n
        print(f"\r  inserted {done:,} conversations, {message_id:,} messages", end="", flush=True)
    print()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO search_entries (id, conversation_id, source, text) "
                          f"SELECT CAST(c.id AS BIGINT) * {search.SLOTS}, c.id, 'c', "
                          "c.subject || ' #' || c.ref || ' ' || coalesce(cu.name, '') || ' ' || "
                          "coalesce(cu.email, '') FROM conversations c JOIN customers cu ON cu.id = c.customer_id"))
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('messages', 'id'), "
                              "(SELECT max(id) FROM messages))"))
            conn.execute(text("SELECT setval(pg_get_serial_sequence('conversations', 'id'), "
                              "(SELECT max(id) FROM conversations))"))
        conn.execute(text("ANALYZE"))
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO search_fts(search_fts) VALUES ('optimize')"))


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

    def __init__(self, url: str, count: int, per: int, reuse: bool, workdir: Path, label: str) -> None:
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
                queries.list_conversations(s, search=words[state["i"] % len(words)], limit=25)

        def like() -> None:
            state["i"] += 1
            with Session(self.engine) as s:
                q = select(Conversation.id).where(search.like_condition(words[state["i"] % len(words)]))
                list(s.scalars(q.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc()).limit(25)))

        def fts_common() -> None:
            with Session(self.engine) as s:
                queries.list_conversations(s, search="refund", limit=25)

        def like_common() -> None:
            with Session(self.engine) as s:
                q = select(Conversation.id).where(search.like_condition("refund"))
                list(s.scalars(q.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc()).limit(25)))

        return {"full-text, rare word": fts, "LIKE scan, rare word": like,
                "full-text, common word": fts_common, "LIKE scan, common word": like_common}

    def close(self) -> None:
        self.engine.dispose()
        from helpdesk import db_of

        db_of(self.app).dispose()


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
    parser.add_argument("--skip-like", action="store_true", help="leave out the LIKE baseline (slow at 1M)")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="helpdesk-pages-")
    work = Path(tmp.name)
    large_url = args.url or f"sqlite:///{args.keep or work / 'large.sqlite'}"
    small_url = args.small_url or f"sqlite:///{work / 'small.sqlite'}"
    server = None
    if args.postgres:
        from tests.servers import start_postgres

        server = start_postgres()
        base = server.url("postgres")
        with make_engine(base).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CREATE DATABASE bench_small"))
            conn.execute(text("CREATE DATABASE bench_large"))
        large_url, small_url = base.rsplit("/", 1)[0] + "/bench_large", base.rsplit("/", 1)[0] + "/bench_small"
    try:
        run(args, large_url, small_url, work)
    finally:
        if server is not None:
            server.stop()
        tmp.cleanup()


def run(args: argparse.Namespace, large_url: str, small_url: str, work: Path) -> None:
    small = Target(small_url, args.small, args.messages, False, work, "small")
    large = Target(large_url, args.conversations, args.messages, args.reuse, work, "large")
    print(f"\nengine: {large.engine.dialect.name}; {args.runs} runs per figure; ms, server time (test client)")
    print(f"{'page':<34} {'small p50':>10} {'p95':>8}   {'large p50':>10} {'p95':>8}")
    small_pages, large_pages = small.pages(), large.pages()
    for name in large_pages:
        s50, s95 = measure(small_pages[name], args.runs)
        l50, l95 = measure(large_pages[name], args.runs)
        print(f"{name:<34} {s50:>10.1f} {s95:>8.1f}   {l50:>10.1f} {l95:>8.1f}", flush=True)
    print("\nthe search query alone (one page of 25 ids and rows)")
    small_q, large_q = small.search_queries(), large.search_queries()
    for name in large_q:
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
