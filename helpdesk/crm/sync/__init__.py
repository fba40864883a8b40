"""The one bridge between the CRM providers and the database: pull and push jobs, watermarks,
rate limits and the admin-visible state of each provider.

A pull is a chain of jobs, one page each: every page is upserted in the same transaction that
advances the cursor, so a pass stopped half way (crash, 429, expired token) resumes from there.
Each job works in phases: read in a short transaction, call the CRM with no transaction open,
write in a short transaction (so the SQLite write lock is never held across an HTTP call).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.crm import PROVIDERS
from helpdesk.crm.contacts import Applied, apply_contacts
from helpdesk.crm.models import CrmSyncState
from helpdesk.crm.provider import (
    AuthExpired,
    ContactPage,
    CRMError,
    CRMProvider,
    RateLimited,
    Rejected,
)
from helpdesk.db import Database, utcnow
from helpdesk.runtime import JobContext, Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")

PULL = "crm.pull"
PUSH = "crm.push"
REFRESH = "crm.refresh"
# Clocks of two systems never agree exactly: each pass re-reads a little before the watermark.
SKEW = timedelta(minutes=1)
MAX_RATE_WAITS = 50
PAGE_CHUNK = 25  # contacts per write transaction (a 100-contact page held the lock ~25-30 ms)

ProviderFactory = Callable[[str, Mapping[str, Any]], CRMProvider]


def _default_factory(name: str, settings: Mapping[str, Any]) -> CRMProvider:
    return PROVIDERS[name](settings)  # type: ignore[arg-type]


class CrmRuntime:
    """The CRM room's per-app state: one provider object per configuration, so its request
    budget and caches are shared by every job of the app (and never by two apps)."""

    def __init__(self, factory: ProviderFactory = _default_factory) -> None:
        self.factory = factory
        self._providers: dict[tuple[str, tuple[tuple[str, str], ...]], CRMProvider] = {}

    def provider(self, settings: Mapping[str, Any]) -> CRMProvider | None:
        name = provider_name(settings)
        if name is None:
            return None
        # Keyed by the provider's own settings: a changed token or URL gets a fresh client.
        prefix = f"{name.upper()}_"
        key = (name, tuple(sorted((k, repr(v)) for k, v in settings.items()
                                  if k.startswith(prefix) or k.startswith("CRM_"))))
        if key not in self._providers:
            self._providers[key] = self.factory(name, settings)
        return self._providers[key]


def crm_runtime(runtime: Runtime) -> CrmRuntime:
    return runtime.state("crm", CrmRuntime)


def provider_name(settings: Mapping[str, Any]) -> str | None:
    name = (settings.get("CRM") or "").strip().lower()
    return name if name in PROVIDERS else None


def provider(runtime: Runtime) -> CRMProvider | None:
    """The configured provider of this app."""
    return crm_runtime(runtime).provider(runtime.settings)


def active_provider(ctx: JobContext) -> CRMProvider | None:
    """The provider for a job; settings that cannot work (no token) park the job with the reason."""
    try:
        return provider(ctx.runtime)
    except AuthExpired as exc:
        with ctx.db.unit_of_work() as session:
            record_failure(session, provider_name(ctx.settings) or "crm", str(exc), auth=True)
        raise jobs.Permanent(str(exc)) from exc


def sync_state(session: Session, name: str) -> CrmSyncState:
    state = session.scalar(select(CrmSyncState).filter_by(provider=name))
    if state is None:
        state = CrmSyncState(provider=name, counts={}, full=False, auth_failed=False)
        session.add(state)
        session.flush()
    return state


def _count(state: CrmSyncState, **deltas: int) -> None:
    counts = dict(state.counts or {})
    for key, value in deltas.items():
        counts[key] = counts.get(key, 0) + value
    state.counts = counts


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# -- failures -------------------------------------------------------------------------------------


def record_failure(session: Session, name: str, message: str, *, auth: bool = False) -> None:
    """Write the reason where admins look (in the caller's transaction: nothing else is in it)."""
    state = sync_state(session, name)
    state.last_error = message[:2000]
    state.last_error_at = utcnow()
    state.auth_failed = auth or state.auth_failed
    _count(state, failures=1)


def guarded(ctx: JobContext, prov: CRMProvider, work: Callable[[], T]) -> T:
    """Run a job's CRM call, with no transaction open: rate limits become RetryLater(Retry-After)
    (no attempt used), refused credentials a dead job with a clear reason (not a crash loop), 5xx
    and garbage the worker's backoff. Each failure is noted in a short transaction of its own."""
    try:
        return work()
    except RateLimited as exc:
        _note_failure(ctx, prov.name, str(exc))
        raise jobs.RetryLater(exc.retry_after, str(exc)) from exc
    except AuthExpired as exc:
        _note_failure(ctx, prov.name, str(exc), auth=True)
        raise jobs.Permanent(str(exc)) from exc
    except Rejected as exc:
        _note_failure(ctx, prov.name, str(exc))
        raise jobs.Permanent(str(exc)) from exc
    except CRMError as exc:
        _note_failure(ctx, prov.name, str(exc))
        raise


def _note_failure(ctx: JobContext, name: str, message: str, *, auth: bool = False) -> None:
    with ctx.db.unit_of_work() as session:
        record_failure(session, name, message, auth=auth)


def _healthy(state: CrmSyncState) -> None:
    """A call went through: the credentials work again."""
    if state.auth_failed:
        state.auth_failed = False


# -- pull -----------------------------------------------------------------------------------------


def request_pull(session: Session, settings: Mapping[str, Any], *, full: bool = False,
                 delay: float = 0) -> jobs.Job | None:
    name = provider_name(settings)
    if name is None:
        return None
    job = jobs.enqueue(session, PULL, {"full": full}, delay=delay, dedupe_key=f"{PULL}:{name}")
    if job.state is jobs.JobState.queued:
        # "Pull now" while the next scheduled pull waits: that job is brought forward.
        if full and not job.payload.get("full"):
            job.payload = {**job.payload, "full": True}
        if not delay and job.run_at > utcnow():
            job.run_at = utcnow()
    return job


Fetch = Callable[[datetime | None, str | None], ContactPage]


def page_cursor(state: CrmSyncState, *, full: bool = False, chain: str | None = None) -> dict[str, Any]:
    """Where the next page starts: the pass in progress, or a new pass from the watermark."""
    cursor = dict(state.cursor or {})
    if not cursor:
        since = None if full or state.watermark is None else state.watermark - SKEW
        cursor = {"since": _iso(since), "after": None, "started": _iso(utcnow()), "seen": 0, "new": True,
                  "full": full}
    if chain:
        cursor["chain"] = chain
    return cursor


def apply_page(session: Session, name: str, state: CrmSyncState, cursor: dict[str, Any],
               page: ContactPage, *, stored: Applied | None = None) -> tuple[bool, int, int | None]:
    """Store one fetched page and advance the cursor in the same transaction. Returns (pass
    finished, contacts on the page, total the CRM announced if it did). `stored`: the part of the
    page already written by `store_chunks`; only the rest is applied here."""
    now = utcnow()
    cursor = dict(cursor)
    if cursor.pop("new", False):
        state.pass_started_at = now
        state.full = bool(cursor.get("full"))
    cursor.pop("full", None)
    done = stored.created + stored.updated if stored else 0
    applied = apply_contacts(session, name, page.contacts[done:])
    _count(
        state,
        pulled=len(page.contacts),
        created=applied.created + (stored.created if stored else 0),
        updated=applied.updated + (stored.updated if stored else 0),
        conflicts=len(applied.conflicts) + (len(stored.conflicts) if stored else 0),
        requests=page.requests,
    )
    _healthy(state)
    problems = page.problems + (stored.conflicts if stored else []) + applied.conflicts
    if problems:
        state.last_error = "; ".join(problems)[:2000]
        state.last_error_at = now
        _count(state, partial_failures=len(page.problems))
    cursor["seen"] = int(cursor.get("seen") or 0) + len(page.contacts)
    if page.after:
        cursor["after"] = page.after
    elif page.restart_since:
        cursor.update(since=_iso(page.restart_since), after=None)
    else:
        state.watermark = _when(cursor["started"])
        state.cursor = None
        state.last_pull_at = now
        session.flush()
        return True, len(page.contacts), page.total
    state.cursor = cursor
    session.flush()
    return False, len(page.contacts), page.total


def store_chunks(db: Database, name: str, cursor: dict[str, Any], page: ContactPage) -> Applied | None:
    """Write all but the last chunk of a page, PAGE_CHUNK contacts per transaction, so the SQLite
    write lock is held a few milliseconds at a time and an agent's message never waits behind a
    whole page. The upserts are idempotent: a pass that stops between chunks writes them again.
    None when another pass moved the cursor meanwhile (this page is stale: nothing more to write)."""
    stored = Applied()
    for start in range(0, len(page.contacts) - PAGE_CHUNK, PAGE_CHUNK):
        with db.unit_of_work() as session:
            if not _same_position(sync_state(session, name), cursor):
                return None
            part = apply_contacts(session, name, page.contacts[start:start + PAGE_CHUNK])
        stored.created += part.created
        stored.updated += part.updated
        stored.conflicts += part.conflicts
    return stored


def _same_position(state: CrmSyncState, cursor: dict[str, Any]) -> bool:
    """Is the stored cursor still where this page started (no other pass moved it meanwhile)?"""
    stored = state.cursor or {}
    if cursor.get("new"):
        return not stored
    return all(stored.get(k) == cursor.get(k) for k in ("started", "since", "after"))


def _other_pull_pending(session: Session) -> bool:
    waiting = session.scalar(
        select(jobs.Job.id).where(jobs.Job.kind == PULL, jobs.Job.state == jobs.JobState.queued).limit(1)
    )
    return waiting is not None


def pull_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """One page of a pull, in three phases: read the cursor, fetch with no transaction open (the
    SQLite write lock stays free for agents while the CRM takes its time), then store the page
    and move the cursor in one short transaction, only if nobody moved it meanwhile."""
    prov = active_provider(ctx)
    if prov is None:
        return
    chain = payload.get("chain")
    with ctx.db.unit_of_work() as session:
        state = sync_state(session, prov.name)
        if chain and (state.cursor or {}).get("chain") != chain:
            return  # another pass took over (e.g. `helpdesk crm sync`): this continuation is stale
        if not chain and state.cursor and _other_pull_pending(session):
            return  # a pass is running and its next page is queued
        chain = chain or uuid.uuid4().hex
        cursor = page_cursor(state, full=bool(payload.get("full")) and not state.cursor, chain=chain)
    page = guarded(ctx, prov, lambda: prov.pull_contacts(_when(cursor["since"]), cursor["after"]))
    interval = float(ctx.settings.get("CRM_PULL_INTERVAL") or 0)
    stored = store_chunks(ctx.db, prov.name, cursor, page)
    if stored is None:
        return  # another pass stored this page or moved on while we fetched: nothing to add
    with ctx.db.unit_of_work() as session:
        state = sync_state(session, prov.name)
        if not _same_position(state, cursor):
            return  # another pass stored this page or moved on while we fetched: nothing to add
        finished, _n, _total = apply_page(session, prov.name, state, cursor, page, stored=stored)
        if finished and interval > 0:
            # This job still holds the schedule key while it runs; free it for the next pass.
            session.execute(
                update(jobs.Job)
                .where(jobs.Job.dedupe_key == f"{PULL}:{prov.name}", jobs.Job.state == jobs.JobState.running)
                .values(dedupe_key=None)
            )
            request_pull(session, ctx.settings, delay=interval)
        elif not finished:
            jobs.enqueue(session, PULL, {"chain": chain})


def run_pass(
    runtime: Runtime,
    *,
    full: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    max_pages: int = 1_000_000,
) -> CrmSyncState:
    """A whole pass by hand (`helpdesk crm sync`, the benchmark): fetch with no transaction open,
    one short transaction per page, waiting out rate limits. It adopts a pass in progress, so a
    stopped sync resumes."""
    prov = provider(runtime)
    if prov is None:
        raise RuntimeError("no CRM is configured: set HELPDESK_CRM=hubspot or salesforce")
    db = runtime.db
    chain = uuid.uuid4().hex
    waits = 0
    first = True
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-prefetch") as pool:
        fetch = _prefetching(prov, pool)
        for _ in range(max_pages):
            with db.unit_of_work() as session:
                state = sync_state(session, prov.name)
                cursor = page_cursor(state, full=full and first and not state.cursor, chain=chain)
            try:
                page = fetch(_when(cursor["since"]), cursor["after"])
            except RateLimited as exc:
                waits += 1
                if waits > MAX_RATE_WAITS:
                    raise
                sleep(exc.retry_after)
                continue
            except CRMError as exc:
                with db.unit_of_work() as session:
                    record_failure(session, prov.name, str(exc), auth=isinstance(exc, AuthExpired))
                raise
            stored = store_chunks(db, prov.name, cursor, page)
            if stored is None:
                continue  # another pass moved the cursor: read where it is now
            with db.unit_of_work() as session:
                state = sync_state(session, prov.name)
                finished, count, total = apply_page(session, prov.name, state, cursor, page, stored=stored)
            first = False
            if progress:
                progress(count, total)
            if finished:
                with db.unit_of_work() as session:
                    state = sync_state(session, prov.name)
                    session.expunge(state)
                return state
    raise RuntimeError(f"stopped after {max_pages} pages")


def _prefetching(prov: CRMProvider, pool: ThreadPoolExecutor) -> Fetch:
    """A fetch that asks for the next page while the caller writes this one, so the database
    work hides behind the CRM's rate limit. Only reads run ahead; the cursor still moves only
    when a page is committed."""
    pending: list[tuple[tuple[datetime | None, str | None], Future[ContactPage]]] = []

    def fetch(since: datetime | None, after: str | None) -> ContactPage:
        ahead = pending.pop() if pending else None
        page = ahead[1].result() if ahead and ahead[0] == (since, after) else prov.pull_contacts(since, after)
        following = (
            (since, page.after) if page.after else (page.restart_since, None) if page.restart_since else None
        )
        if following is not None:
            pending.append((following, pool.submit(prov.pull_contacts, *following)))
        return page

    return fetch


# -- refresh (webhooks) ---------------------------------------------------------------------------


def refresh_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    prov = active_provider(ctx)
    if prov is None or prov.name != payload.get("provider"):
        return
    ids = [str(i) for i in payload.get("ids", [])][:100]
    contacts = guarded(ctx, prov, lambda: prov.get_contacts(ids))  # no transaction open
    with ctx.db.unit_of_work() as session:
        applied = apply_contacts(session, prov.name, contacts)
        state = sync_state(session, prov.name)
        _healthy(state)
        _count(state, refreshed=len(contacts), conflicts=len(applied.conflicts))
        if applied.conflicts:
            state.last_error = "; ".join(applied.conflicts)[:2000]
            state.last_error_at = utcnow()


# -- GDPR erase ------------------------------------------------------------------------------------

ERASE = "crm.erase_contact"  # written by helpdesk.customers360.erasure when HELPDESK_CRM_ERASE is on


def erase_contact_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Ask the CRM to delete an erased customer's contact. The payload holds only the CRM's id:
    the job row outlives the erase and must not keep the person's address. Nothing is read or
    written here, so the CRM's answer is awaited with no transaction open."""
    prov = active_provider(ctx)
    if prov is None or prov.name != payload.get("provider"):
        raise jobs.Permanent(f"the CRM {payload.get('provider')!r} is no longer configured; delete the "
                             "contact there by hand")
    external_id = str(payload.get("external_id") or "")
    guarded(ctx, prov, lambda: prov.delete_contact(external_id))


# The push side lives in its own module of this package.
from helpdesk.crm.sync.push import conversation_link, enqueue_push, push_job  # noqa: E402


def init_app(runtime: Runtime) -> None:
    """The CRM jobs of this app."""
    runtime.jobs.register(PULL, pull_job)
    runtime.jobs.register(REFRESH, refresh_job)
    runtime.jobs.register(PUSH, push_job)
    runtime.jobs.register(ERASE, erase_contact_job)


__all__ = [
    "ERASE",
    "PULL",
    "PUSH",
    "REFRESH",
    "CrmRuntime",
    "active_provider",
    "apply_page",
    "conversation_link",
    "crm_runtime",
    "enqueue_push",
    "erase_contact_job",
    "guarded",
    "init_app",
    "page_cursor",
    "provider",
    "provider_name",
    "pull_job",
    "push_job",
    "record_failure",
    "refresh_job",
    "request_pull",
    "run_pass",
    "sync_state",
]
