"""First import of N contacts from a fake HubSpot that enforces HubSpot's documented request rates.

    python bench/crm_import.py                  # 100,000 contacts (about 4 minutes: the rate limit dominates)
    python bench/crm_import.py --contacts 20000 --database-url postgresql+psycopg://...

The fake answers 429 above 190 requests per 10 s (private apps on Professional/Enterprise; use
--rate 100/10 for Free/Starter) and above 5 search requests per second, like HubSpot. The client
throttles itself to the same budget. Printed: wall time next to the least time those limits allow
for the requests the import needed.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk import create_app, db_of  # noqa: E402
from helpdesk.crm import sync  # noqa: E402
from helpdesk.runtime import runtime_of  # noqa: E402
from tests.crm.fake_hubspot import FakeHubSpot  # noqa: E402


def build(fake: FakeHubSpot, contacts: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    companies = [fake.add_company(f"Company {i}") for i in range(max(1, contacts // 50))]
    for i in range(contacts):
        props = {"lifecyclestage": rng.choice(["lead", "customer", "opportunity", "subscriber"])}
        if rng.random() < 0.3:
            props["associatedcompanyid"] = rng.choice(companies)
        oid = fake.add_contact(f"shopper{i}@example.com", f"Shopper{i}", "Example", **props)
        if rng.random() < 0.05:
            fake.add_deal(oid, f"Deal {i}", f"{rng.randint(100, 50000)}.00", "appointmentscheduled")


def rate(text: str) -> tuple[int, float]:
    n, _, w = text.partition("/")
    return int(n), float(w)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rate", default="190/10", help="HubSpot's request budget, requests/seconds")
    parser.add_argument("--search-rate", default="5/1", help="the search endpoints' own budget")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    limit, window = rate(args.rate)
    search_limit, search_window = rate(args.search_rate)

    fake = FakeHubSpot(rate=(limit, window), search_rate=(search_limit, search_window))
    t0 = time.perf_counter()
    build(fake, args.contacts)
    print(
        f"fake HubSpot: {len(fake.contacts):,} contacts, {len(fake.companies):,} companies, "
        f"{len(fake.deals):,} deals (built in {time.perf_counter() - t0:.1f} s)"
    )
    fake.start()
    folder = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.sqlite'}"
    app = create_app(
        {
            "INSTANCE_PATH": str(folder),
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "CRM": "hubspot",
            "HUBSPOT_ACCESS_TOKEN": fake.token,
            "HUBSPOT_API_URL": fake.url,
            "HUBSPOT_RATE": args.rate,
            "HUBSPOT_SEARCH_RATE": args.search_rate,
        }
    )
    seen = 0
    started = time.perf_counter()

    def progress(count: int, total: int | None) -> None:
        # `total` is what the current query matches; after HubSpot's 10,000-result restart it is
        # the rest, so the bench counts against the contacts it made.
        nonlocal seen
        before, seen = seen, seen + count
        if seen // 10_000 != before // 10_000:
            elapsed = time.perf_counter() - started
            print(
                f"  {seen:>7,} / {args.contacts:,} contacts  {elapsed:6.1f} s  {seen / elapsed:6.0f}/s",
                flush=True,
            )

    state = sync.run_pass(runtime_of(app), full=True, progress=progress)
    elapsed = time.perf_counter() - started
    fake.stop()

    requests = len(fake.log) - fake.throttled
    searches = fake.count("POST", r"/search$") - fake.throttled_searches
    least = max(searches * search_window / search_limit, requests * window / limit)
    pages = math.ceil(args.contacts / 100)
    print()
    print(f"imported     {state.counts.get('created', 0):,} contacts ({pages:,} search pages of 100)")
    print(
        f"requests     {requests:,} ({searches:,} searches, {requests - searches:,} batch reads and owners)"
    )
    print(f"429s         {fake.throttled} (waited out with their Retry-After)")
    print(f"time         {elapsed:.1f} s  ({args.contacts / elapsed:,.0f} contacts/s)")
    print(f"least time   {least:.1f} s allowed by {args.rate} requests/s and {args.search_rate} searches/s")
    print(f"overhead     {elapsed / least:.2f}x the rate-limit floor")
    db_of(app).dispose()


if __name__ == "__main__":
    main()
