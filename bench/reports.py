"""Benchmark: the reports on one million conversations.

    python bench/reports.py                          # SQLite file in a temporary folder
    python bench/reports.py --postgres               # a throwaway PostgreSQL cluster (as the tests do)
    python bench/reports.py --url postgresql+psycopg://...   # an empty database of yours
    python bench/reports.py --conversations 100000   # a smaller run

Generates a year of conversations (plus one agent reply each and a survey for a third of them)
with bulk executemany inserts, then prints how long the summary (total, per agent, per day) and
the CSV export take. A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.crm.models import Customer
from helpdesk.db import make_engine
from helpdesk.migrations import upgrade
from helpdesk.reports import export
from helpdesk.reports.figures import summary
from helpdesk.reports.ranges import make_period, timezone
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import Conversation, Inbox, Message, Team

YEAR = datetime(2025, 1, 1, tzinfo=UTC)
CHUNK = 20_000


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    print(f"{label:<38} {time.perf_counter() - started:8.2f} s", flush=True)
    return result


def generate(engine, count: int, seed: int = 1, start: datetime = YEAR) -> None:  # type: ignore[no-untyped-def]
    """A year of `count` conversations from `start`, one agent reply each."""
    rnd = random.Random(seed)
    with engine.begin() as conn:
        conn.execute(insert(Team), [{"name": f"Team {i}", "public_id": f"tm_bench{i}", "created_at": start}
                                    for i in range(3)])
        conn.execute(insert(Inbox), [
            {"name": "Chat", "public_id": "ib_chat", "channel": "chat", "settings": {}, "auto_assign": False,
             "max_open_per_agent": 0, "created_at": start},
            {"name": "Mail", "public_id": "ib_mail", "channel": "email", "settings": {}, "auto_assign": False,
             "max_open_per_agent": 0, "created_at": start}])
        conn.execute(insert(Agent), [{"email": f"agent{i}@bench.example", "name": f"Agent {i:02d}",
                                      "public_id": f"ag_bench{i}", "password_hash": "x", "role": "agent",
                                      "active": True, "session_version": 1, "created_at": start}
                                     for i in range(20)])
        conn.execute(insert(Customer), [{"public_id": f"cu_bench{i}", "email": f"c{i}@bench.example",
                                         "notes": "", "attributes": {}, "created_at": start,
                                         "updated_at": start}
                                        for i in range(10_000)])
    seconds_in_year = 365 * 86400
    done = 0
    while done < count:
        n = min(CHUNK, count - done)
        convs, msgs, surveys = [], [], []
        for k in range(done + 1, done + n + 1):
            # Rows arrive in time order, as they do in a live helpdesk: ids grow with created_at.
            created = start + timedelta(seconds=(k - 1) * seconds_in_year / count + rnd.uniform(0, 30))
            first = created + timedelta(seconds=int(rnd.expovariate(1 / 900)) + 5)
            resolved = first + timedelta(seconds=int(rnd.expovariate(1 / 14400)))
            is_resolved = rnd.random() < 0.93
            chat = rnd.random() < 0.6
            agent = rnd.randrange(1, 21)
            convs.append({"id": k, "public_id": f"cv_b{k}", "ref": f"B{k:09d}", "inbox_id": 1 if chat else 2,
                          "customer_id": rnd.randrange(1, 10_001), "channel": "chat" if chat else "email",
                          "status": "resolved" if is_resolved else "open", "priority": "normal",
                          "assignee_id": agent, "team_id": agent % 3 + 1, "subject": "Where is my order?",
                          "created_at": created, "updated_at": resolved, "last_activity_at": first,
                          "first_response_at": first, "resolved_at": resolved if is_resolved else None,
                          "last_seq": 1})
            msgs.append({"conversation_id": k, "seq": 1, "public_id": f"msg_b{k}", "author_type": "agent",
                         "author_id": agent, "author_name": "", "private": False, "body_text": "Hello",
                         "meta": {}, "created_at": first})
            if is_resolved and k % 3 == 0:
                answered = rnd.random() < 0.4
                surveys.append({"public_id": f"cs_b{k}", "conversation_id": k, "inbox_id": 1 if chat else 2,
                                "agent_id": agent, "team_id": agent % 3 + 1,
                                "channel": "chat" if chat else "email",
                                "question": "", "nonce": "n", "sent_at": resolved,
                                "expires_at": resolved + timedelta(days=7),
                                "score": rnd.choice([1, 2, 3, 4, 4, 5, 5, 5]) if answered else None,
                                "comment": "=cmd|' /C calc'!A0" if answered and k % 97 == 0 else "",
                                "first_answered_at": resolved if answered else None,
                                "answered_at": resolved if answered else None})
        with engine.begin() as conn:
            conn.execute(Conversation.__table__.insert(), convs)
            conn.execute(Message.__table__.insert(), msgs)
            if surveys:
                conn.execute(CsatSurvey.__table__.insert(), surveys)
        done += n
        print(f"\r  inserted {done:,} conversations", end="", flush=True)
    print()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="database URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the data already in --url")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL cluster")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="helpdesk-bench-")
    url = args.url or f"sqlite:///{Path(tmp.name) / 'bench.sqlite'}"
    server = None
    if args.postgres:
        from tests.servers import start_postgres

        server = start_postgres()
        url = server.url("postgres")
    try:
        run(url, args.conversations, reuse=args.reuse)
    finally:
        if server is not None:
            server.stop()
        tmp.cleanup()


def run(url: str, count: int, *, reuse: bool) -> None:
    engine = make_engine(url)
    print(f"database: {engine.dialect.name}; conversations: {count:,}")
    timed("migrate", lambda: upgrade(engine))
    if not reuse:
        timed(f"generate {count:,} conversations", lambda: generate(engine, count))

    period = make_period(YEAR, YEAR + timedelta(days=365), timezone("UTC"))
    month = make_period(YEAR + timedelta(days=150), YEAR + timedelta(days=180), timezone("UTC"))
    with Session(engine) as session:
        totals = timed("summary, whole year", lambda: summary(session, period))["totals"]
        timed("summary, whole year, by agent", lambda: summary(session, period, group_by="agent"))
        timed("summary, whole year, by day", lambda: summary(session, period, group_by="day"))
        timed("summary, 30 days, by day (dashboard)", lambda: summary(session, month, group_by="day"))

        def export_all() -> int:
            size = rows = 0
            for chunk in export.csv_chunks(session, period):
                size += len(chunk)
                rows += chunk.count("\n")
            print(f"  {rows - 1:,} rows, {size / 1e6:.0f} MB of CSV")
            return size
        timed("CSV export, whole year", export_all)
    print(f"check: created {totals['conversations_created']:,}, "
          f"resolved {totals['conversations_resolved']:,}, CSAT {totals['csat']}, "
          f"first response median {totals['first_response_median_seconds']} s")
    engine.dispose()


if __name__ == "__main__":
    main()
