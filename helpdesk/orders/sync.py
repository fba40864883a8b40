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
from helpdesk.orders import services, shops
from helpdesk.orders.connector import Connector, PayloadError, PlatformError, PlatformRateLimited
from helpdesk.orders.models import SyncState
from helpdesk.orders.platform import Inbound
from helpdesk.runtime import JobContext, Runtime

log = logging.getLogger(__name__)

MAGENTO_MAX_PAGES_PER_PULL = 20
BACKFILL = "orders.backfill"
FETCH = "orders.fetch"
MAGENTO_PULL = "orders.magento_pull"



def connector(platform: str, settings: Mapping[str, Any], shop: str | None = None,
              session: Session | None = None) -> Connector:
    """The connector of a platform's shop `shop` (None: its first). With a session, the shops
    table is read too; without one, only the settings' default shop."""
    desc = shops.platform_of(platform)
    view = shops.find_shop(session, settings, platform, shop)
    if view is None:
        what = f"{platform} shop {shop}" if shop else platform
        raise Invalid("platform", f"{what} is not configured (see the HELPDESK_{platform.upper()}_* settings "
                      "or Admin → Shops)", code="not_configured")
    return desc.connect(view.credentials)


def configured(platform: str, settings: Mapping[str, Any], shop: str | None = None,
               session: Session | None = None) -> Connector | None:
    try:
        return connector(platform, settings, shop, session)
    except Invalid:
        return None


# --- webhook bodies -------------------------------------------------------------------------

def apply_inbound(session: Session, settings: Mapping[str, Any], platform: str, inbound: Inbound) -> str:
    """Apply one verified, parsed webhook. Returns what happened ("parked": kept for an admin)."""
    result = "ignored"
    for data in inbound.orders:
        _order, changed = services.upsert_order(session, SYSTEM, data)
        result = "applied" if changed else "stale"
    for order_id, refund in inbound.refunds:
        if services.add_refund(session, SYSTEM, platform, inbound.shop, order_id, refund) is None:
            result = enqueue_fetch(session, settings, platform, order_id, inbound.shop)
        else:
            result = "applied"
    for customer in inbound.customers:
        services.update_customer(session, SYSTEM, platform, inbound.shop, customer)
        result = "applied"
    for order_id in inbound.fetch:
        result = enqueue_fetch(session, settings, platform, order_id, inbound.shop)
    return result


def enqueue_fetch(session: Session, settings: Mapping[str, Any], platform: str, order_id: str,
                  shop: str | None = None) -> str:
    """Fetch an order from its platform, later, in a job. "parked" when the API is not set up."""
    conn = configured(platform, settings, shop, session)
    if conn is None:
        return "parked"
    jobs.enqueue(session, FETCH, {"platform": platform, "order_id": order_id, "shop": conn.shop},
                 dedupe_key=f"{FETCH}:{platform}:{conn.shop}:{order_id}"[:200])
    return "fetching"


def _connector_of(ctx: JobContext, platform: str, shop: str | None) -> Connector | None:
    with ctx.db.unit_of_work() as session:  # a short read of the shop's credentials
        return configured(platform, ctx.settings, shop, session)


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
    conn = _connector_of(ctx, payload["platform"], payload.get("shop"))
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
                   customer_id: str | None = None, shop: str | None = None) -> SyncState:
    """Backfill a shop's orders page by page: one job per page, the cursor kept with the orders,
    so a restart goes on from the last page stored."""
    conn = connector(platform, settings, shop, session)
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
    if shops.platform_of(platform).pulls:
        default = shops.default_shop(settings, platform)
        ensure_magento_pull(session, shop=None if default and default.key == conn.shop else conn.shop)
    return state


def backfill_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """One page: read the cursor, fetch the page with no transaction open, then store it and move
    the cursor in one short transaction (only if the cursor is still where the page began)."""
    platform, shop, page_no = payload["platform"], payload["shop"], int(payload.get("page", 1))
    conn = _connector_of(ctx, platform, shop)
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


def ensure_magento_pull(session: Session, delay: float = 0, shop: str | None = None) -> None:
    """Keep exactly one pending pull of a Magento shop's orders in the queue (None: the settings' shop)."""
    pending = session.scalars(select(jobs.Job).where(
        jobs.Job.kind == MAGENTO_PULL, jobs.Job.state == jobs.JobState.queued))
    if any(job.payload.get("shop") == shop for job in pending):
        return
    jobs.enqueue(session, MAGENTO_PULL, {"shop": shop} if shop else {}, delay=delay)


def magento_pull_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Pull the orders updated since the watermark; then come again after MAGENTO_PULL_SECONDS.
    Each page is fetched with no transaction open and stored in a short one (upserts are
    idempotent); the watermark moves once the pull is through."""
    conn = _connector_of(ctx, "magento", payload.get("shop"))
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
        ensure_magento_pull(session, delay=float(ctx.settings.get("MAGENTO_PULL_SECONDS") or 300),
                            shop=payload.get("shop"))


START_PULLS_EVERY_SECONDS = 300


def start_pulls_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Start the chain of pulls of every Magento shop once it is configured, and again should a
    chain break."""
    with ctx.db.unit_of_work() as session:
        running = [job.payload.get("shop") for job in session.scalars(select(jobs.Job).where(
            jobs.Job.kind == MAGENTO_PULL, jobs.Job.state.in_([jobs.JobState.queued, jobs.JobState.running])))]
        for view in shops.shops_of(session, ctx.settings, "magento"):
            shop = None if view.from_settings else view.key
            if shop not in running:
                ensure_magento_pull(session, shop=shop)


def init_app(runtime: Runtime) -> None:
    """The orders jobs of this app."""
    runtime.jobs.register(FETCH, fetch_job)
    runtime.jobs.register(BACKFILL, backfill_job)
    runtime.jobs.register(MAGENTO_PULL, magento_pull_job)
    runtime.jobs.periodic("orders.start_pulls", START_PULLS_EVERY_SECONDS, start_pulls_job)
