"""The one bridge between the CRM providers and the database: pull and push jobs, watermarks,
rate limits and the admin-visible state of each provider.

A pull is a chain of jobs, one page each: every page is upserted in the same transaction that
advances the cursor, so a pass stopped half way (crash, 429, expired token) resumes from there.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.crm import PROVIDERS
from helpdesk.crm.contacts import apply_contacts
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

log = logging.getLogger(__name__)
T = TypeVar("T")

PULL = "crm.pull"
PUSH = "crm.push"
REFRESH = "crm.refresh"
# Clocks of two systems never agree exactly: each pass re-reads a little before the watermark.
SKEW = timedelta(minutes=1)
MAX_RATE_WAITS = 50

_settings: dict[str, Any] = {}
_providers: dict[str, CRMProvider] = {}
# Tests and the benchmark swap in a provider built around a fake server.
provider_factory: Callable[[str, dict[str, Any]], CRMProvider] = lambda name, s: PROVIDERS[name](s)  # noqa: E731


def configure(settings: dict[str, Any]) -> None:
    """Called by create_app: job handlers run outside any request, so they read settings here."""
    _settings.clear()
    _settings.update(settings)
    _providers.clear()


def provider_name() -> str | None:
    name = (_settings.get("CRM") or "").strip().lower()
    return name if name in PROVIDERS else None


def provider() -> CRMProvider | None:
    """The configured provider, kept per process so its request budget and caches are shared."""
    name = provider_name()
    if name is None:
        return None
    if name not in _providers:
        _providers[name] = provider_factory(name, _settings)
    return _providers[name]


def active_provider(session: Session) -> CRMProvider | None:
    """The provider for a job; settings that cannot work (no token) park the job with the reason."""
    try:
        return provider()
    except AuthExpired as exc:
        record_failure(session, provider_name() or "crm", str(exc), auth=True)
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
    """Drop the half-done work of this job and write the reason where admins look."""
    session.rollback()
    state = sync_state(session, name)
    state.last_error = message[:2000]
    state.last_error_at = utcnow()
    state.auth_failed = auth or state.auth_failed
    _count(state, failures=1)
    session.commit()


def guarded(session: Session, prov: CRMProvider, work: Callable[[], T]) -> T:
    """Run CRM work inside a job: rate limits become RetryLater(Retry-After), refused credentials a
    dead job with a clear reason (not a crash loop), 5xx and garbage the worker's backoff."""
    try:
        result = work()
    except RateLimited as exc:
        record_failure(session, prov.name, str(exc))
        raise jobs.RetryLater(exc.retry_after, str(exc)) from exc
    except AuthExpired as exc:
        record_failure(session, prov.name, str(exc), auth=True)
        raise jobs.Permanent(str(exc)) from exc
    except Rejected as exc:
        record_failure(session, prov.name, str(exc))
        raise jobs.Permanent(str(exc)) from exc
    except CRMError as exc:
        record_failure(session, prov.name, str(exc))
        raise
    state = sync_state(session, prov.name)
    if state.auth_failed:
        state.auth_failed = False
    return result


# -- pull -----------------------------------------------------------------------------------------


def request_pull(session: Session, *, full: bool = False, delay: float = 0) -> jobs.Job | None:
    name = provider_name()
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


def pull_page(
    session: Session,
    prov: CRMProvider,
    state: CrmSyncState,
    *,
    full: bool = False,
    chain: str | None = None,
    fetch: Fetch | None = None,
) -> tuple[bool, int, int | None]:
    """Pull one page and advance the cursor in the same transaction. Returns (pass finished,
    contacts on the page, total the CRM announced if it did)."""
    cursor = dict(state.cursor or {})
    now = utcnow()
    if not cursor:
        since = None if full or state.watermark is None else state.watermark - SKEW
        cursor = {"since": _iso(since), "after": None, "started": _iso(now), "seen": 0}
        state.pass_started_at = now
        state.full = full
    if chain:
        cursor["chain"] = chain
    page = (fetch or prov.pull_contacts)(_when(cursor["since"]), cursor["after"])
    applied = apply_contacts(session, prov.name, page.contacts)
    _count(
        state,
        pulled=len(page.contacts),
        created=applied.created,
        updated=applied.updated,
        conflicts=len(applied.conflicts),
        requests=page.requests,
    )
    problems = page.problems + applied.conflicts
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


def _other_pull_pending(session: Session) -> bool:
    waiting = session.scalar(
        select(jobs.Job.id).where(jobs.Job.kind == PULL, jobs.Job.state == jobs.JobState.queued).limit(1)
    )
    return waiting is not None


@jobs.handler(PULL)
def pull_job(session: Session, payload: dict[str, Any]) -> None:
    prov = active_provider(session)
    if prov is None:
        return
    state = sync_state(session, prov.name)
    chain = payload.get("chain")
    if chain and (state.cursor or {}).get("chain") != chain:
        return  # another pass took over (e.g. `helpdesk crm sync`): this continuation is stale
    if not chain and state.cursor and _other_pull_pending(session):
        return  # a pass is running and its next page is queued
    chain = chain or uuid.uuid4().hex
    finished, _n, _total = guarded(
        session,
        prov,
        lambda: pull_page(
            session, prov, state, full=bool(payload.get("full")) and not state.cursor, chain=chain
        ),
    )
    interval = float(_settings.get("CRM_PULL_INTERVAL") or 0)
    if finished and interval > 0:
        # This job still holds the schedule key while it runs; free it for the next pass.
        session.execute(
            update(jobs.Job)
            .where(jobs.Job.dedupe_key == f"{PULL}:{prov.name}", jobs.Job.state == jobs.JobState.running)
            .values(dedupe_key=None)
        )
        request_pull(session, delay=interval)
    elif not finished:
        jobs.enqueue(session, PULL, {"chain": chain})


def run_pass(
    db: Database,
    *,
    full: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    max_pages: int = 1_000_000,
) -> CrmSyncState:
    """A whole pass by hand (`helpdesk crm sync`, the benchmark): one transaction per page, waiting
    out rate limits. It adopts a pass in progress, so a stopped sync resumes."""
    prov = provider()
    if prov is None:
        raise RuntimeError("no CRM is configured: set HELPDESK_CRM=hubspot or salesforce")
    chain = uuid.uuid4().hex
    waits = 0
    first = True
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-prefetch") as pool:
        fetch = _prefetching(prov, pool)
        for _ in range(max_pages):
            try:
                with db.unit_of_work() as session:
                    state = sync_state(session, prov.name)
                    finished, count, total = pull_page(
                        session,
                        prov,
                        state,
                        full=full and first and not state.cursor,
                        chain=chain,
                        fetch=fetch,
                    )
                first = False
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


@jobs.handler(REFRESH)
def refresh_job(session: Session, payload: dict[str, Any]) -> None:
    prov = active_provider(session)
    if prov is None or prov.name != payload.get("provider"):
        return
    ids = [str(i) for i in payload.get("ids", [])][:100]
    contacts = guarded(session, prov, lambda: prov.get_contacts(ids))
    applied = apply_contacts(session, prov.name, contacts)
    state = sync_state(session, prov.name)
    _count(state, refreshed=len(contacts), conflicts=len(applied.conflicts))
    if applied.conflicts:
        state.last_error = "; ".join(applied.conflicts)[:2000]
        state.last_error_at = utcnow()


# -- GDPR erase ------------------------------------------------------------------------------------

ERASE = "crm.erase_contact"  # written by helpdesk.customers360.erasure when HELPDESK_CRM_ERASE is on


@jobs.handler(ERASE)
def erase_contact_job(session: Session, payload: dict[str, Any]) -> None:
    """Ask the CRM to delete an erased customer's contact. The payload holds only the CRM's id:
    the job row outlives the erase and must not keep the person's address."""
    prov = active_provider(session)
    if prov is None or prov.name != payload.get("provider"):
        raise jobs.Permanent(f"the CRM {payload.get('provider')!r} is no longer configured; delete the "
                             "contact there by hand")
    external_id = str(payload.get("external_id") or "")
    session.rollback()  # no transaction is held while the CRM answers
    guarded(session, prov, lambda: prov.delete_contact(external_id))


# The push side lives in its own module of this package; importing it registers its job handler.
from helpdesk.crm.sync.push import conversation_link, enqueue_push, push_job  # noqa: E402

__all__ = [
    "PULL",
    "PUSH",
    "REFRESH",
    "active_provider",
    "configure",
    "conversation_link",
    "enqueue_push",
    "guarded",
    "provider",
    "provider_name",
    "pull_job",
    "pull_page",
    "push_job",
    "record_failure",
    "refresh_job",
    "request_pull",
    "run_pass",
    "sync_state",
]
