"""The Mailchimp jobs: push a customer's consent to the audience, forget an erased member.

Phases as everywhere: read in a short transaction, ask Mailchimp with no transaction open, write
the outcome in another short transaction that checks the consent did not move meanwhile."""

from __future__ import annotations

import re
from typing import Any

from helpdesk import jobs
from helpdesk.crm import services as crm
from helpdesk.crm.models import Customer
from helpdesk.db import utcnow
from helpdesk.marketing.consent import sync_row
from helpdesk.marketing.mailchimp import Audience, MailchimpSettings, RateLimited, Refused, Unavailable
from helpdesk.marketing.models import SyncState
from helpdesk.runtime import JobContext

MIN_WAIT, MAX_WAIT = 5.0, 600.0
DATA_CENTRE = re.compile(r"^[^-]+-[a-z]+[0-9]+$")


def _settings(ctx: JobContext) -> MailchimpSettings:
    settings = MailchimpSettings.from_config(ctx.settings)
    if settings is None:
        raise jobs.Permanent("Mailchimp is not configured (HELPDESK_MAILCHIMP_API_KEY, HELPDESK_MAILCHIMP_LIST_ID)")
    if not settings.api_url and not DATA_CENTRE.search(settings.api_key):
        # Without it the client would ask a host that does not exist, over and over.
        raise jobs.Permanent("HELPDESK_MAILCHIMP_API_KEY does not end in its data centre (like -us21)")
    return settings


def _wait(ctx: JobContext) -> float:
    # A 429 does not use an attempt; wait as long again as the job has waited so far (5 s to 10 min),
    # so a long rate limit is asked about less and less often. Mailchimp sends no Retry-After.
    age = (ctx.now() - ctx.job.created_at).total_seconds()
    return min(MAX_WAIT, max(MIN_WAIT, age))


def sync_consent_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    settings = _settings(ctx)
    with ctx.db.unit_of_work() as session:  # 1. read
        customer = session.get(Customer, int(payload.get("customer_id") or 0))
        if customer is None:
            return
        customer = crm.resolve(session, customer)
        customer_id, email = customer.id, customer.email
        consent, version = customer.marketing_consent, customer.marketing_consent_at
    if not email or consent is None:
        return  # erased, or never asked: nothing to tell Mailchimp
    try:
        Audience(settings).set_subscribed(email, consent)  # 2. Mailchimp, no transaction open
    except RateLimited as exc:
        raise jobs.RetryLater(_wait(ctx), exc.message) from None
    except Refused as exc:
        _record(ctx, customer_id, SyncState.failed, exc.message)
        raise jobs.Permanent(exc.message) from None
    except Unavailable as exc:
        _record(ctx, customer_id, SyncState.pending, exc.message)
        raise  # retried with the worker's backoff, dead after max_attempts
    with ctx.db.unit_of_work() as session:  # 3. write, if nothing moved meanwhile
        customer = session.get(Customer, customer_id)
        if customer is None or customer.email != email or customer.marketing_consent_at != version:
            # Changed while we asked (this job's dedupe key kept the change from queuing another).
            raise jobs.RetryLater(MIN_WAIT / 10, "the consent changed while it was being synced")
        row = sync_row(session, customer_id, create=True)
        assert row is not None
        row.state, row.status = SyncState.synced, "subscribed" if consent else "unsubscribed"
        row.synced_at, row.last_error = utcnow(), None


def _record(ctx: JobContext, customer_id: int, state: SyncState, error: str) -> None:
    with ctx.db.unit_of_work() as session:
        row = sync_row(session, customer_id, create=True)
        assert row is not None
        row.state, row.last_error = state, error[:2000]


def erase_member_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """GDPR erase: the payload holds only Mailchimp's member hash, never the address."""
    settings = _settings(ctx)
    member = str(payload.get("subscriber_hash") or "")
    if len(member) != 32:
        raise jobs.Permanent("no subscriber hash in the job")
    try:
        Audience(settings).forget(member)  # a member Mailchimp never had is as good as forgotten
    except RateLimited as exc:
        raise jobs.RetryLater(_wait(ctx), exc.message) from None
    except Refused as exc:
        raise jobs.Permanent(exc.message) from None
