"""Agent replies while a CRM pull runs against a slow HubSpot: job handlers in phases vs. a handler
that holds its transaction across the HTTP calls (what every CRM/orders job did before).

    python bench/job_phases.py                       # 1,000 contacts, 500 ms per HubSpot request
    python bench/job_phases.py --delay 0.2 --contacts 200
    python bench/job_phases.py --database-url postgresql+psycopg://user@127.0.0.1:5432/bench

One job worker (a thread) runs a full pull from a fake HubSpot that takes --delay seconds per
request and answers every 7th request with 429 Retry-After: 0.5. Meanwhile an "agent" posts a reply
every 50 ms through the ticket services (what a REST or console reply does in its transaction) and
times each unit of work. Printed for each mode: replies, p50 / p99 / worst reply time, and replies
that failed with DatabaseBusy. The baseline mode wraps the same pull handler in one transaction
that takes the write lock first and then calls HubSpot inside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from helpdesk import create_app, db_of, jobs  # noqa: E402
from helpdesk.accounts import services as accounts  # noqa: E402
from helpdesk.accounts.models import Agent  # noqa: E402
from helpdesk.actors import SYSTEM, agent_actor, customer_actor  # noqa: E402
from helpdesk.crm import services as crm  # noqa: E402
from helpdesk.crm import sync  # noqa: E402
from helpdesk.crm.models import CrmSyncState  # noqa: E402
from helpdesk.crm.provider import RateLimited  # noqa: E402
from helpdesk.db import DatabaseBusy, utcnow  # noqa: E402
from helpdesk.jobs import Worker  # noqa: E402
from helpdesk.runtime import JobContext, runtime_of  # noqa: E402
from helpdesk.tickets import services as tickets  # noqa: E402
from tests.crm.fake_hubspot import FakeHubSpot  # noqa: E402
from tests.crm.fakeserver import Reply  # noqa: E402


def slow_hubspot(contacts: int, delay: float) -> FakeHubSpot:
    fake = FakeHubSpot()
    for i in range(contacts):
        fake.add_contact(f"shopper{i}@example.com", f"Shopper{i}", "Example", lifecyclestage="lead")
    calls = [0]

    def precheck(method: str, path: str, headers: dict[str, str]) -> Reply | None:
        calls[0] += 1
        time.sleep(delay)  # a HubSpot having a slow day
        if calls[0] % 7 == 0:
            return Reply(429, {"status": "error", "policyName": "SECONDLY", "message": "secondly limit"},
                         {"Retry-After": "0.5"})
        return None

    fake.precheck = precheck  # type: ignore[method-assign]
    return fake.start()


def holding_the_lock(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The old shape of the pull handler: one unit of work around the whole page, the CRM called
    inside it (on SQLite the first statement took the write lock, BEGIN IMMEDIATE)."""
    prov = sync.provider(ctx.runtime)
    assert prov is not None
    with ctx.db.unit_of_work() as session:
        state = sync.sync_state(session, prov.name)
        chain = payload.get("chain") or uuid.uuid4().hex
        cursor = sync.page_cursor(state, full=bool(payload.get("full")) and not state.cursor, chain=chain)
        try:
            page = prov.pull_contacts(sync._when(cursor["since"]), cursor["after"])
        except RateLimited as exc:
            raise jobs.RetryLater(exc.retry_after, str(exc)) from exc
        finished, _n, _total = sync.apply_page(session, prov.name, state, cursor, page)
        if not finished:
            jobs.enqueue(session, sync.PULL, {"chain": chain})


def run(mode: str, url: str, folder: Path, contacts: int, delay: float) -> dict[str, Any]:
    fake = slow_hubspot(contacts, delay)
    app = create_app({"INSTANCE_PATH": str(folder / mode), "DATABASE_URL": url, "SECRET_KEY": "bench",
                      "CRM": "hubspot", "HUBSPOT_ACCESS_TOKEN": fake.token, "HUBSPOT_API_URL": fake.url,
                      "HUBSPOT_RATE": "1000/1", "HUBSPOT_SEARCH_RATE": "1000/1", "CRM_PULL_INTERVAL": 0,
                      "CRM_CREATE_CONTACTS": False})
    runtime = runtime_of(app)
    if mode == "baseline":
        runtime.jobs.register(sync.PULL, holding_the_lock, replace=True)  # the old handler's shape
    database = db_of(app)
    with database.unit_of_work() as s:
        agent = accounts.create_agent(s, SYSTEM, email=f"{mode}@example.com", password="x" * 12, role="admin")
        inbox, _ = tickets.create_inbox(s, agent_actor(agent), name=f"Mail {mode}", channel="email")
        customer = crm.customer_for_email(s, SYSTEM, "buyer@example.com", "Buyer")
        conv = tickets.create_conversation(s, customer_actor(customer), inbox=inbox, customer=customer,
                                           subject="Where is my order?", body="Hello")
        conv_id, agent_id = conv.public_id, agent.id
        sync.request_pull(s, app.config, full=True)
    sync.provider(runtime)  # build the client (a big import) before the clock starts
    worker = Worker(runtime)
    done = threading.Event()
    since = utcnow()

    def work() -> None:
        while not done.is_set():
            with database.unit_of_work() as s:
                state = s.query(CrmSyncState).filter_by(provider="hubspot").one_or_none()
                finished = state is not None and state.last_pull_at is not None and state.last_pull_at > since
            if finished:
                done.set()
                return
            if not worker.run_one():
                time.sleep(0.05)

    started = time.perf_counter()
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    times: list[float] = []
    busy = 0
    while not done.is_set() and time.perf_counter() - started < 600:
        t0 = time.perf_counter()
        try:
            with database.unit_of_work() as s:
                tickets.post_message(s, agent_actor(s.get(Agent, agent_id)), tickets.get_conversation(s, conv_id),
                                     body="We are on it", private=True)
            times.append(time.perf_counter() - t0)
        except DatabaseBusy:
            busy += 1
        time.sleep(0.05)
    thread.join(timeout=30)
    elapsed = time.perf_counter() - started
    fake.stop()
    database.dispose()
    times.sort()
    return {"mode": mode, "replies": len(times), "busy": busy, "pull_s": elapsed,
            "p50": statistics.median(times) if times else float("nan"),
            "p99": times[min(len(times) - 1, int(len(times) * 0.99))] if times else float("nan"),
            "worst": times[-1] if times else float("nan"), "requests": len(fake.log)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per HubSpot request")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="phases-bench-"))
    results = []
    for mode in ("baseline", "phases"):
        url = args.database_url or f"sqlite:///{folder / f'{mode}.sqlite'}"
        print(f"{mode}: pulling {args.contacts} contacts at {args.delay * 1000:.0f} ms per request ...", flush=True)
        results.append(run(mode, url, folder, args.contacts, args.delay))
    print()
    print(f"{'mode':<10} {'pull':>7} {'requests':>8} {'replies':>7} {'p50 ms':>8} {'p99 ms':>8} {'worst ms':>9} "
          f"{'DatabaseBusy':>12}")
    for r in results:
        print(f"{r['mode']:<10} {r['pull_s']:6.1f}s {r['requests']:>8} {r['replies']:>7} {r['p50'] * 1000:8.1f} "
              f"{r['p99'] * 1000:8.1f} {r['worst'] * 1000:9.1f} {r['busy']:>12}")


if __name__ == "__main__":
    main()
