"""The one bridge between the platform connectors and the database: webhook bodies, fetches,
backfills and the Magento pull, each as an idempotent job that calls the platform with no
transaction open (read in a short transaction, fetch, write in a short transaction)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.actors import SYSTEM
from helpdesk.errors import Invalid
from helpdesk.orders import CONNECTORS, services
from helpdesk.orders.connector import Connector, PayloadError, PlatformError, PlatformRateLimited
from helpdesk.orders.models import SyncState
from helpdesk.orders.shopify import ShopifyConnector
from helpdesk.runtime import JobContext, Runtime

log = logging.getLogger(__name__)

SHOPIFY_ORDER_TOPICS = {"orders/create", "orders/updated", "orders/fulfilled", "orders/cancelled",
                        "orders/paid", "orders/partially_fulfilled"}
SHOPIFY_TOPICS = SHOPIFY_ORDER_TOPICS | {"refunds/create", "customers/update", "customers/create"}
MAGENTO_MAX_PAGES_PER_PULL = 20
BACKFILL = "orders.backfill"
FETCH = "orders.fetch"
MAGENTO_PULL = "orders.magento_pull"



def connector(platform: str, settings: Mapping[str, Any]) -> Connector:
    cls = CONNECTORS.get(platform)
    if cls is None:
        raise Invalid("platform", f"unknown platform; one of {', '.join(sorted(CONNECTORS))}")
    conn = cls.from_settings(settings)
    if conn is None:
        raise Invalid("platform", f"{platform} is not configured (see the HELPDESK_{platform.upper()}_* settings)",
                      code="not_configured")
    return conn


def configured(platform: str, settings: Mapping[str, Any]) -> Connector | None:
    try:
        return connector(platform, settings)
    except Invalid:
        return None


# --- webhook bodies -------------------------------------------------------------------------

def apply_shopify(session: Session, settings: Mapping[str, Any], topic: str, payload: Any, shop: str) -> str:
    """Apply one verified Shopify webhook. Returns what happened; raises PayloadError on a bad body."""
    parser = ShopifyConnector(shop, access_token="")
    if topic in SHOPIFY_ORDER_TOPICS:
        _order, changed = services.upsert_order(session, SYSTEM, parser.parse_order(payload))
        return "applied" if changed else "stale"
    if topic == "refunds/create":
        order_id, refund = parser.parse_refund(payload)
        if services.add_refund(session, SYSTEM, "shopify", shop, order_id, refund) is None:
            return enqueue_fetch(session, settings, "shopify", order_id)
        return "applied"
    if topic in ("customers/update", "customers/create"):
        services.update_customer(session, SYSTEM, "shopify", shop, parser.parse_customer(payload))
        return "applied"
    return "ignored"


def enqueue_fetch(session: Session, settings: Mapping[str, Any], platform: str, order_id: str) -> str:
    """Fetch an order from its platform, later, in a job. "parked" when the API is not set up."""
    if configured(platform, settings) is None:
        return "parked"
    jobs.enqueue(session, FETCH, {"platform": platform, "order_id": order_id},
                 dedupe_key=f"{FETCH}:{platform}:{order_id}"[:200])
    return "fetching"


# --- jobs -----------------------------------------------------------------------------------

def _platform_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Map the platform's answers to the job queue's: wait as asked, give up when hopeless."""
    try:
        return fn(*args, **kwargs)
    except PlatformRateLimited as exc:
        raise jobs.RetryLater(exc.retry_after, "rate limited by the platform") from exc
    except (PlatformError, PayloadError) as exc:
        raise jobs.Permanent(str(exc)) from exc


def fetch_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    conn = configured(payload["platform"], ctx.settings)
    if conn is None:
        raise jobs.Permanent(f"{payload['platform']} is not configured")
    data = _platform_call(conn.fetch_order, str(payload["order_id"]))  # no transaction open
    with ctx.db.unit_of_work() as session:
        services.upsert_order(session, SYSTEM, data)


def sync_state(session: Session, platform: str, shop: str) -> SyncState:
    state = session.scalar(select(SyncState).filter_by(platform=platform, shop=shop))
    if state is None:
        state = SyncState(platform=platform, shop=shop, backfill_seen=0, backfill_state="idle")
        session.add(state)
        session.flush()
    return state


def start_backfill(session: Session, settings: Mapping[str, Any], platform: str,
                   customer_id: str | None = None) -> SyncState:
    """Backfill a shop's orders page by page: one job per page, the cursor kept with the orders,
    so a restart goes on from the last page stored."""
    conn = connector(platform, settings)
    state = sync_state(session, platform, conn.shop)
    state.backfill_state = "running"
    state.backfill_cursor = None
    state.backfill_seen = 0
    state.backfill_total = None
    state.backfill_error = None
    session.flush()
    jobs.enqueue(session, BACKFILL, {"platform": platform, "shop": conn.shop, "page": 1,
                                     "customer_id": customer_id},
                 dedupe_key=f"{BACKFILL}:{platform}:{conn.shop}:{customer_id or ''}:1"[:200])
    if platform == "magento":
        ensure_magento_pull(session)
    return state


def backfill_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """One page: read the cursor, fetch the page with no transaction open, then store it and move
    the cursor in one short transaction (only if the cursor is still where the page began)."""
    platform, shop, page_no = payload["platform"], payload["shop"], int(payload.get("page", 1))
    conn = configured(platform, ctx.settings)
    if conn is None:
        raise jobs.Permanent(f"{platform} is not configured")
    with ctx.db.unit_of_work() as session:
        state = sync_state(session, platform, shop)
        if state.backfill_state != "running":
            return  # finished or restarted meanwhile: this job is left over
        cursor = state.backfill_cursor
    try:
        page = _platform_call(conn.list_orders, cursor, customer_id=payload.get("customer_id"))
    except jobs.Permanent as exc:
        with ctx.db.unit_of_work() as session:
            state = sync_state(session, platform, shop)
            if state.backfill_state == "running" and state.backfill_cursor == cursor:
                state.backfill_state, state.backfill_error = "failed", str(exc)[:4000]
        return
    with ctx.db.unit_of_work() as session:
        state = sync_state(session, platform, shop)
        if state.backfill_state != "running" or state.backfill_cursor != cursor:
            return  # another run of this page (or a restart) got there first
        for data in page.orders:
            services.upsert_order(session, SYSTEM, data)
        state.backfill_seen += len(page.orders)
        if page.total is not None:
            state.backfill_total = page.total
        state.backfill_cursor = page.next_cursor
        if page.next_cursor is None:
            state.backfill_state = "done"
            return
        jobs.enqueue(session, BACKFILL, {**payload, "page": page_no + 1},
                     dedupe_key=f"{BACKFILL}:{platform}:{shop}:{payload.get('customer_id') or ''}:{page_no + 1}"[:200])


def ensure_magento_pull(session: Session, delay: float = 0) -> None:
    """Keep exactly one pending pull of Magento orders in the queue."""
    pending = session.scalar(select(jobs.Job.id).where(
        jobs.Job.kind == MAGENTO_PULL, jobs.Job.state == jobs.JobState.queued))
    if pending is None:
        jobs.enqueue(session, MAGENTO_PULL, {}, delay=delay)


def magento_pull_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Pull the orders updated since the watermark; then come again after MAGENTO_PULL_SECONDS.
    Each page is fetched with no transaction open and stored in a short one (upserts are
    idempotent); the watermark moves once the pull is through."""
    conn = configured("magento", ctx.settings)
    if conn is None:
        return  # no longer configured: the schedule ends here
    with ctx.db.unit_of_work() as session:
        since = sync_state(session, "magento", conn.shop).watermark
    newest = since
    cursor: str | None = None
    for _ in range(MAGENTO_MAX_PAGES_PER_PULL):
        page = _platform_call(conn.list_orders, cursor, updated_since=since)
        with ctx.db.unit_of_work() as session:
            for data in page.orders:
                services.upsert_order(session, SYSTEM, data)
                stamp = data.updated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
                newest = max(newest or stamp, stamp)
        cursor = page.next_cursor
        if cursor is None:
            break
    with ctx.db.unit_of_work() as session:
        state = sync_state(session, "magento", conn.shop)
        if newest and (state.watermark is None or newest > state.watermark):
            state.watermark = newest
        session.flush()
        ensure_magento_pull(session, delay=float(ctx.settings.get("MAGENTO_PULL_SECONDS") or 300))


START_PULLS_EVERY_SECONDS = 300


def start_pulls_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Start Magento's chain of pulls once it is configured, and again should the chain break."""
    if configured("magento", ctx.settings) is None:
        return
    with ctx.db.unit_of_work() as session:
        pending = session.scalar(select(jobs.Job.id).where(
            jobs.Job.kind == MAGENTO_PULL, jobs.Job.state.in_([jobs.JobState.queued, jobs.JobState.running])))
        if pending is None:
            ensure_magento_pull(session)


def init_app(runtime: Runtime) -> None:
    """The orders jobs of this app."""
    runtime.jobs.register(FETCH, fetch_job)
    runtime.jobs.register(BACKFILL, backfill_job)
    runtime.jobs.register(MAGENTO_PULL, magento_pull_job)
    runtime.jobs.periodic("orders.start_pulls", START_PULLS_EVERY_SECONDS, start_pulls_job)
