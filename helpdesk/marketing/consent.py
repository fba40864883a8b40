"""Marketing consent: given in the widget's pre-chat form or set by an agent on the 360 page,
stored on the customer, audited, and synced to the shop's Mailchimp audience by a job."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.accounts.services import audit
from helpdesk.actors import Actor
from helpdesk.crm import services as crm
from helpdesk.crm.models import Customer
from helpdesk.db import utcnow
from helpdesk.errors import Forbidden, Invalid
from helpdesk.marketing.models import MarketingSync, SyncState

SOURCES = ("widget", "console", "api")
SYNC_JOB = "marketing.sync_consent"
ERASE_JOB = "marketing.erase_member"
PROVIDER = "mailchimp"


def mailchimp_on(settings: Any) -> bool:
    return bool(settings.get("MAILCHIMP_API_KEY") and settings.get("MAILCHIMP_LIST_ID"))


def set_consent(session: Session, actor: Actor, customer: Customer, consent: object, *, source: str,
                sync: bool) -> Customer:
    """Record the customer's yes or no; a change is audited and, with `sync`, queued for Mailchimp
    in this same transaction. The same answer again changes nothing."""
    if not isinstance(consent, bool):
        raise Invalid("marketing_consent", "true or false")
    if source not in SOURCES:
        raise Invalid("source", f"one of {', '.join(SOURCES)}")
    if actor.type not in ("agent", "customer", "system"):
        raise Forbidden("only agents and the customer change marketing consent")
    customer = crm.resolve(session, customer)
    if customer.attributes and customer.attributes.get("erased"):
        raise Invalid("customer", "this customer was erased")
    before = customer.marketing_consent
    if before is consent:
        return customer
    customer.marketing_consent = consent
    customer.marketing_consent_at = utcnow()
    customer.marketing_consent_source = source
    customer.marketing_consent_by = actor.name if actor.is_agent else actor.type
    session.flush()
    # A customer actor's name is their name or email: the audit row names them by role only.
    who = actor if actor.is_agent or actor.type == "system" else Actor(actor.type, actor.id, "customer")
    audit(session, who, "customer.marketing_consent", "customer", customer.public_id,
          changes={"marketing_consent": [before, consent]}, source=source)
    if sync:
        queue_sync(session, customer)
    return customer


def queue_sync(session: Session, customer: Customer) -> None:
    """The job carries only the customer's row id: it reads the address when it runs."""
    if not customer.email:
        return
    row = sync_row(session, customer.id, create=True)
    assert row is not None
    row.state = SyncState.pending
    row.last_error = None
    jobs.enqueue(session, SYNC_JOB, {"customer_id": customer.id}, dedupe_key=f"{SYNC_JOB}:{customer.id}")
    session.flush()


def sync_row(session: Session, customer_id: int, *, create: bool = False) -> MarketingSync | None:
    row = session.scalar(select(MarketingSync).filter_by(provider=PROVIDER, customer_id=customer_id))
    if row is None and create:
        row = MarketingSync(provider=PROVIDER, customer_id=customer_id, state=SyncState.pending)
        session.add(row)
        session.flush()
    return row


def consent_view(session: Session, customer: Customer, settings: Any) -> dict[str, Any]:
    """What the 360 page and the API show: the answer, who gave it when and how, and the sync."""
    row = sync_row(session, customer.id)
    return {
        "consent": customer.marketing_consent,
        "at": customer.marketing_consent_at.isoformat().replace("+00:00", "Z")
        if customer.marketing_consent_at else None,
        "source": customer.marketing_consent_source,
        "by": customer.marketing_consent_by,
        "mailchimp": None if not mailchimp_on(settings) else {
            "state": row.state.value if row else None,
            "status": row.status if row else None,
            "synced_at": row.synced_at.isoformat().replace("+00:00", "Z") if row and row.synced_at else None,
            "error": row.last_error if row else None,
        },
    }
