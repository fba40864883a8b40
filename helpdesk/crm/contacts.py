"""Pulled CRM contacts into customers: link, snapshot, and the clear states of conflicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.accounts.services import EMAIL_RE
from helpdesk.crm.models import CrmContact, Customer, Identity, IdentityKind
from helpdesk.crm.provider import CRMContact
from helpdesk.crm.services import add_identity, resolve
from helpdesk.db import utcnow

MAX_CONFLICTS = 20


@dataclass
class Applied:
    created: int = 0
    updated: int = 0
    conflicts: list[str] = field(default_factory=list)


def _email(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value if value and EMAIL_RE.match(value) and len(value) <= 254 else None


def flag_conflict(customer: Customer, kind: str, **data: Any) -> None:
    """Remember a conflict on the customer for the 360 view; an agent settles it by merging."""
    entry = {"kind": kind, **data}
    conflicts = [c for c in (customer.attributes or {}).get("crm_conflicts", []) if c != entry]
    customer.attributes = {
        **(customer.attributes or {}),
        "crm_conflicts": [*conflicts, entry][-MAX_CONFLICTS:],
    }


def apply_contacts(session: Session, provider: str, contacts: list[CRMContact]) -> Applied:
    """Upsert one page of pulled contacts. Links and identities are looked up for the whole page at
    once: a first import is 100,000 contacts."""
    result = Applied()
    ids = [c.external_id for c in contacts]
    links = {
        link.external_id: link
        for link in session.scalars(
            select(CrmContact).where(CrmContact.provider == provider, CrmContact.external_id.in_(ids))
        )
    }
    emails = {e for c in contacts if (e := _email(c.email))}
    owners = (
        {
            i.value: i
            for i in session.scalars(
                select(Identity).where(
                    Identity.kind == IdentityKind.email, Identity.provider == "", Identity.value.in_(emails)
                )
            )
        }
        if emails
        else {}
    )
    externals = {
        i.value: i
        for i in session.scalars(
            select(Identity).where(
                Identity.kind == IdentityKind.external, Identity.provider == provider, Identity.value.in_(ids)
            )
        )
    }
    now = utcnow()
    for contact in contacts:
        email = _email(contact.email)
        link = links.get(contact.external_id)
        if link is None:
            owner = owners.get(email) if email else None
            customer = resolve(session, owner.customer) if owner else None
            if customer is None:
                customer = Customer(
                    email=email,
                    name=(contact.name or "")[:200] or None,
                    phone=(contact.phone or "")[:40] or None,
                )
                session.add(customer)
                if email:  # not owned: the page's owners were read above
                    owners[email] = Identity(
                        customer=customer, kind=IdentityKind.email, provider="", value=email
                    )
                    session.add(owners[email])
            # Relationships, not ids: the whole page is flushed once, not once per contact.
            link = CrmContact(
                provider=provider, external_id=contact.external_id, customer=customer, email=email
            )
            session.add(link)
            links[contact.external_id] = link
            if contact.external_id not in externals:
                externals[contact.external_id] = Identity(
                    customer=customer,
                    kind=IdentityKind.external,
                    provider=provider,
                    value=contact.external_id,
                )
                session.add(externals[contact.external_id])
            result.created += 1
        else:
            customer = resolve(session, link.customer)
            if link.customer_id != customer.id:
                link.customer_id = customer.id  # the linked customer was merged away
            result.updated += 1
            if email and email != link.email:
                _email_changed(session, provider, link, customer, email, owners, result)
        if contact.name and not customer.name:
            customer.name = contact.name[:200]
        link.email = email
        link.name = (contact.name or "")[:200] or None
        link.phone = (contact.phone or "")[:40] or None
        link.company = (contact.company or "")[:200] or None
        link.lifecycle = (contact.lifecycle or "")[:64] or None
        link.owner = (contact.owner or "")[:200] or None
        link.deals = [d.as_dict() for d in contact.deals]
        link.url = contact.url
        link.remote_updated_at = contact.updated_at
        link.synced_at = now
    session.flush()
    return result


def _email_changed(
    session: Session,
    provider: str,
    link: CrmContact,
    customer: Customer,
    email: str,
    owners: dict[str, Identity],
    result: Applied,
) -> None:
    """The contact's email changed in the CRM. The new address becomes the customer's primary email
    and the old one stays an identity (their old mail still threads). If another customer already
    owns the new address, two customers now claim this contact: both are flagged, nothing moves."""
    owner = owners.get(email) or session.scalar(
        select(Identity).filter_by(kind=IdentityKind.email, provider="", value=email)
    )
    other = resolve(session, owner.customer) if owner else None
    if other is not None and other.id != customer.id:
        flag_conflict(
            customer,
            "email_taken",
            provider=provider,
            contact=link.external_id,
            email=email,
            other=other.public_id,
        )
        flag_conflict(
            other, "claims_contact", provider=provider, contact=link.external_id, other=customer.public_id
        )
        result.conflicts.append(
            f"{provider} contact {link.external_id}: {email} belongs to {other.public_id}, "
            f"linked to {customer.public_id}"
        )
        return
    if owner is None:
        owners[email] = add_identity(session, customer, IdentityKind.email, email)
    customer.email = email


def link_contact(session: Session, provider: str, customer: Customer, contact: CRMContact) -> CrmContact:
    """Link a contact found or created for a customer by a push. A contact already linked to somebody
    else stays theirs (unique (provider, external_id)); this customer is flagged as claiming it."""
    existing = session.scalar(
        select(CrmContact).filter_by(provider=provider, external_id=contact.external_id)
    )
    if existing is not None:
        owner = resolve(session, existing.customer)
        if owner.id != customer.id:
            flag_conflict(
                customer,
                "claims_contact",
                provider=provider,
                contact=contact.external_id,
                other=owner.public_id,
            )
        return existing
    link = CrmContact(
        provider=provider,
        external_id=contact.external_id,
        customer_id=customer.id,
        email=_email(contact.email),
        name=contact.name,
        phone=contact.phone,
        company=contact.company,
        lifecycle=contact.lifecycle,
        owner=contact.owner,
        deals=[d.as_dict() for d in contact.deals],
        url=contact.url,
        remote_updated_at=contact.updated_at,
    )
    session.add(link)
    add_identity(session, customer, IdentityKind.external, contact.external_id, provider)
    session.flush()
    return link
