"""GDPR erasure across the rooms: everything the helpdesk holds that names or quotes the customer.

crm/ erases the profile (merging.erase_customer); this module then purges what the other rooms
keep of them: message texts and attachments, the raw inbound mails (body, attachments, sender),
orders' email, addresses and tracking, CSAT comments, the automatic-mail log, audit values, job
payloads and parked webhook payloads that mention them. Rooms above this one (chat: visitor rows
and unsent uploads) purge theirs on crm's CustomerErased event, which they subscribe to in their
init_app with `runtime.events.subscribe_in_transaction`: it runs inside the erase's own
transaction, just before it commits, so their purge exists exactly when the erase does."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.accounts.models import AuditEntry
from helpdesk.actors import Actor
from helpdesk.crm import merging
from helpdesk.crm import services as crm
from helpdesk.crm.models import CrmContact, Customer, Identity, IdentityKind
from helpdesk.marketing import consent as marketing
from helpdesk.marketing.mailchimp import subscriber_hash
from helpdesk.marketing.models import MarketingSync
from helpdesk.orders.models import Fulfillment, Order, Refund, WebhookDelivery
from helpdesk.tickets import search
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.email.models import AutoMail, InboundMail
from helpdesk.tickets.models import Attachment, Conversation, Message

ERASED = "[erased]"
CRM_DELETE = "crm.erase_contact"  # crm.sync.ERASE, handled there
MIN_NEEDLE = 4  # a name shorter than this would redact unrelated audit text


@dataclass
class Erasure:
    """Who is being erased, gathered before crm/ wipes the profile."""

    customer_ids: list[int]
    public_ids: list[str]
    conversation_ids: list[int]
    emails: set[str] = field(default_factory=set)
    needles: set[str] = field(default_factory=set)  # emails, names, phones: text that identifies them
    crm_contacts: list[tuple[str, str]] = field(default_factory=list)  # provider, external id




def gather(session: Session, customer: Customer) -> Erasure:
    ids = crm.merged_ids(session, customer)
    customers = list(session.scalars(select(Customer).where(Customer.id.in_(ids))))
    identities = list(session.scalars(select(Identity).where(Identity.customer_id.in_(ids))))
    contacts = list(session.scalars(select(CrmContact).where(CrmContact.customer_id.in_(ids))))
    emails = {c.email.lower() for c in customers if c.email}
    emails |= {i.value.lower() for i in identities if i.kind is IdentityKind.email}
    emails |= {c.email.lower() for c in contacts if c.email}
    needles = set(emails)
    needles |= {c.name for c in customers if c.name} | {c.name for c in contacts if c.name}
    needles |= {c.phone for c in customers if c.phone} | {c.phone for c in contacts if c.phone}
    needles |= {i.value for i in identities if i.kind is IdentityKind.phone}
    conversation_ids = list(session.scalars(select(Conversation.id).where(Conversation.customer_id.in_(ids))))
    return Erasure(
        customer_ids=ids,
        public_ids=[c.public_id for c in customers],
        conversation_ids=conversation_ids,
        emails=emails,
        needles={n.strip() for n in needles if n and len(n.strip()) >= MIN_NEEDLE},
        crm_contacts=[(c.provider, c.external_id) for c in contacts],
    )


def erase(session: Session, actor: Actor, customer: Customer, *, crm_delete: bool = False,
          mailchimp: bool = False) -> Customer:
    """Erase the customer everywhere, in this one transaction; with `crm_delete`, a job then asks
    the CRM to delete the contact too (after commit, like every call to the outside world), and
    with `mailchimp` (on whenever Mailchimp is configured) another forgets their audience member."""
    customer = crm.resolve(session, customer)
    erasure = gather(session, customer)
    merging.erase_customer(session, actor, customer)
    _conversations(session, erasure)
    _inbound_mails(session, erasure)
    _orders(session, erasure)
    _auto_mails(session, erasure)
    _audit(session, erasure)
    _jobs_and_webhooks(session, erasure)
    _marketing(session, erasure, mailchimp)
    # Rooms above (chat) purge theirs on merging.CustomerErased, recorded by erase_customer above.
    if crm_delete:
        for provider, external_id in erasure.crm_contacts:
            # Only the CRM's id: the job row stays after the erase and must not hold their address.
            jobs.enqueue(session, CRM_DELETE, {"provider": provider, "external_id": external_id},
                         dedupe_key=f"{CRM_DELETE}:{provider}:{external_id}")
    session.flush()
    if erasure.conversation_ids:
        # The search index's message rows follow by trigger; its header rows (subject, name,
        # email) are rewritten here, in the same transaction.
        search.refresh_headers(session, conversation_ids=erasure.conversation_ids)
    session.expire_all()
    return customer


def _marketing(session: Session, erasure: Erasure, mailchimp: bool) -> None:
    """Consent and its sync state go; the audience forgets every address of theirs (each job holds
    only Mailchimp's hash of it; a member Mailchimp never had is as good as forgotten)."""
    session.execute(update(Customer).where(Customer.id.in_(erasure.customer_ids)).values(
        marketing_consent=None, marketing_consent_at=None, marketing_consent_source=None,
        marketing_consent_by=None))
    session.execute(delete(MarketingSync).where(MarketingSync.customer_id.in_(erasure.customer_ids))
                    .execution_options(synchronize_session=False))
    if mailchimp:
        for member in sorted({subscriber_hash(email) for email in erasure.emails}):
            jobs.enqueue(session, marketing.ERASE_JOB, {"subscriber_hash": member},
                         dedupe_key=f"{marketing.ERASE_JOB}:{member}")


def _conversations(session: Session, erasure: Erasure) -> None:
    ids = erasure.conversation_ids
    if not ids:
        return
    session.execute(update(Conversation).where(Conversation.id.in_(ids)).values(subject=ERASED))
    session.execute(update(Message).where(Message.conversation_id.in_(ids))
                    .values(body_text=ERASED, body_html=None, meta={}, delivery_error=None))
    session.execute(update(Message).where(Message.conversation_id.in_(ids), Message.author_type == "customer")
                    .values(author_name="Erased customer"))
    message_ids = select(Message.id).where(Message.conversation_id.in_(ids))
    session.execute(delete(Attachment).where(Attachment.message_id.in_(message_ids))
                    .execution_options(synchronize_session=False))
    session.execute(update(CsatSurvey).where(CsatSurvey.conversation_id.in_(ids)).values(comment=""))


def _inbound_mails(session: Session, erasure: Erasure) -> None:
    """The raw mail holds everything (body, attachments, headers): the row goes, not just its text."""
    clauses = []
    if erasure.conversation_ids:
        clauses.append(InboundMail.conversation_id.in_(erasure.conversation_ids))
    if erasure.emails:
        clauses.append(func.lower(InboundMail.sender).in_(erasure.emails))
    if clauses:
        session.execute(delete(InboundMail).where(or_(*clauses)).execution_options(synchronize_session=False))


def _orders(session: Session, erasure: Erasure) -> None:
    clauses = [Order.customer_id.in_(erasure.customer_ids)]
    if erasure.emails:
        clauses.append(func.lower(Order.email).in_(erasure.emails))
    order_ids = list(session.scalars(select(Order.id).where(or_(*clauses))))
    if not order_ids:
        return
    # The order stays for the shop's figures (total, items, dates); whom and where it went goes.
    session.execute(update(Order).where(Order.id.in_(order_ids)).values(email=None, shipping_address={}))
    session.execute(update(Fulfillment).where(Fulfillment.order_id.in_(order_ids))
                    .values(tracking_number=None, tracking_url=None))
    session.execute(update(Refund).where(Refund.order_id.in_(order_ids)).values(note=None))
    # The payment keeps its amounts; the card's last four digits and the provider's message go.
    from helpdesk.payments.models import Payment

    session.execute(update(Payment).where(Payment.order_id.in_(order_ids)).values(method=None, error=None))


def _auto_mails(session: Session, erasure: Erasure) -> None:
    if erasure.emails:
        session.execute(delete(AutoMail).where(func.lower(AutoMail.address).in_(erasure.emails))
                        .execution_options(synchronize_session=False))


def _mentions(column: Any, needles: Iterable[str]) -> Any:
    text = func.lower(cast(column, Text))
    return or_(*[text.contains(n.lower(), autoescape=True) for n in needles])


def _audit(session: Session, erasure: Erasure) -> None:
    """Entries about the customer lose every value; any other entry quoting them loses that value."""
    conversations = list(session.scalars(select(Conversation.public_id)
                                         .where(Conversation.id.in_(erasure.conversation_ids)))) \
        if erasure.conversation_ids else []
    about = or_(AuditEntry.target_id.in_(erasure.public_ids), AuditEntry.target_id.in_(conversations)) \
        if conversations else AuditEntry.target_id.in_(erasure.public_ids)
    clauses = [about] + ([_mentions(AuditEntry.data, erasure.needles)] if erasure.needles else [])
    for entry in session.scalars(select(AuditEntry).where(or_(*clauses))):
        if entry.target_type == "customer" and entry.target_id in erasure.public_ids:
            fields = None  # every changed value of the customer's own record was theirs
        elif entry.target_id in conversations:
            fields = {"subject"}
        else:
            fields = set()
        entry.data = redact(entry.data, erasure.needles, fields)


def redact(value: Any, needles: set[str], fields: set[str] | None = frozenset()) -> Any:
    """`value` with every string that quotes a needle replaced, and the old and new values of the
    `changes` record's `fields` (None: all of them)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "changes" and isinstance(v, dict):
                out[k] = {f: _blank(old_new) if fields is None or f in fields else redact(old_new, needles)
                          for f, old_new in v.items()}
            else:
                out[k] = redact(v, needles, fields)
        return out
    if isinstance(value, list):
        return [redact(item, needles, fields) for item in value]
    if isinstance(value, str) and any(n.lower() in value.lower() for n in needles):
        return ERASED
    return value


def _blank(value: Any) -> Any:
    if isinstance(value, list):
        return [None if item is None else ERASED for item in value]
    return None if value is None else ERASED


def _jobs_and_webhooks(session: Session, erasure: Erasure) -> None:
    if not erasure.needles:
        return
    # A queued mail to them, a CRM push naming them: moot once they are erased, and they hold the address.
    session.execute(delete(jobs.Job).where(or_(_mentions(jobs.Job.payload, erasure.needles),
                                               _mentions(jobs.Job.last_error, erasure.needles)))
                    .execution_options(synchronize_session=False))
    session.execute(update(WebhookDelivery).where(_mentions(WebhookDelivery.payload, erasure.needles))
                    .values(payload=None))
    # Other people's mails that copied them: the headers we keep (meta.email: from, cc, ...) lose
    # their address; the texts those people wrote are theirs and stay.
    for message in session.scalars(select(Message).where(_mentions(Message.meta, erasure.needles))):
        message.meta = redact(message.meta, erasure.needles)
