"""Customers and their identities: resolution by email, phone and external id; notes; edits."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit, normalise_email, require
from helpdesk.actors import Actor
from helpdesk.crm.models import CrmContact, Customer, CustomerNote, Identity, IdentityKind
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound

MAX_NOTE = 5000
PHONE_RE = re.compile(r"^\+?[0-9]{5,20}$")


def normalise_phone(phone: str) -> str:
    cleaned = re.sub(r"[\s().\-/]", "", phone or "")
    if not PHONE_RE.match(cleaned):
        raise Invalid("phone", "not a phone number")
    return cleaned


def find_by_identity(session: Session, kind: IdentityKind, value: str, provider: str = "") -> Customer | None:
    identity = session.scalar(select(Identity).filter_by(kind=kind, provider=provider, value=value))
    return resolve(session, identity.customer) if identity else None


def resolve(session: Session, customer: Customer) -> Customer:
    """Follow merges to the surviving customer."""
    seen = set()
    while customer.merged_into_id and customer.id not in seen:
        seen.add(customer.id)
        customer = session.get(Customer, customer.merged_into_id) or customer
    return customer


def add_identity(
    session: Session,
    customer: Customer,
    kind: IdentityKind,
    value: str,
    provider: str = "",
    verified: bool = False,
) -> Identity:
    identity = session.scalar(select(Identity).filter_by(kind=kind, provider=provider, value=value))
    if identity is None:
        identity = Identity(customer=customer, kind=kind, provider=provider, value=value, verified=verified)
        session.add(identity)
    elif verified:
        identity.verified = True
    session.flush()
    return identity


def customer_for_email(session: Session, actor: Actor, email: str, name: str | None = None) -> Customer:
    """The customer who owns this email address, created on first contact."""
    email = normalise_email(email)
    customer = find_by_identity(session, IdentityKind.email, email)
    if customer is None:
        customer = Customer(email=email, name=(name or "").strip()[:200] or None)
        session.add(customer)
        session.flush()
        add_identity(session, customer, IdentityKind.email, email)
    elif name and not customer.name:
        customer.name = name.strip()[:200]
    return customer


def identify(
    session: Session,
    actor: Actor,
    *,
    email: str | None = None,
    phone: str | None = None,
    external: tuple[str, str] | None = None,
    name: str | None = None,
) -> Customer:
    """One customer for whatever we know of a person: an external id (a CRM or shop record) wins,
    then the email, then the phone. Identities not yet known are added to that customer; one that
    belongs to somebody else stays there (agents merge, the code never guesses)."""
    email = normalise_email(email) if email else None
    phone = normalise_phone(phone) if phone else None
    candidates = []
    if external:
        candidates.append(find_by_identity(session, IdentityKind.external, external[1], external[0]))
    if email:
        candidates.append(find_by_identity(session, IdentityKind.email, email))
    if phone:
        candidates.append(find_by_identity(session, IdentityKind.phone, phone))
    customer = next((c for c in candidates if c is not None), None)
    if customer is None:
        if not (email or phone or external):
            raise Invalid("customer", "give an email, a phone or an external id")
        customer = Customer(email=email, phone=phone, name=(name or "").strip()[:200] or None)
        session.add(customer)
        session.flush()
    elif name and not customer.name:
        customer.name = name.strip()[:200]
    for kind, value, provider in (
        (IdentityKind.email, email, ""),
        (IdentityKind.phone, phone, ""),
        (IdentityKind.external, external[1] if external else None, external[0] if external else ""),
    ):
        if value and find_by_identity(session, kind, value, provider) is None:
            add_identity(session, customer, kind, value, provider)
    if email and not customer.email:
        customer.email = email
    if phone and not customer.phone:
        customer.phone = phone
    session.flush()
    return customer


def create_customer(
    session: Session,
    actor: Actor,
    *,
    email: str | None = None,
    name: str | None = None,
    phone: str | None = None,
) -> Customer:
    if not (email or name or phone):
        raise Invalid("customer", "give at least an email, a name or a phone")
    if email:
        customer = customer_for_email(session, actor, email, name)
        if phone:
            update_customer(session, actor, customer, phone=phone)
        return customer
    if phone:
        return identify(session, actor, phone=phone, name=name)
    customer = Customer(name=(name or "").strip()[:200] or None)
    session.add(customer)
    session.flush()
    return customer


def get_customer(session: Session, public_id: str) -> Customer:
    customer = session.scalar(select(Customer).filter_by(public_id=public_id))
    if customer is None:
        raise NotFound("no such customer")
    return resolve(session, customer)


def search_customers(
    session: Session,
    *,
    email: str | None = None,
    q: str | None = None,
    limit: int = 25,
    after_id: int | None = None,
) -> list[Customer]:
    """Live (not merged-away) customers, newest first; `email` matches any email identity."""
    query = select(Customer).where(Customer.merged_into_id.is_(None))
    if email:
        owner = find_by_identity(session, IdentityKind.email, email.strip().lower())
        query = query.where(Customer.id == (owner.id if owner else -1))
    if q and q.strip():
        like = f"%{q.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(Customer.name).like(like),
                func.lower(Customer.email).like(like),
                Customer.phone.like(like),
                Customer.id.in_(
                    select(CrmContact.customer_id).where(func.lower(CrmContact.company).like(like))
                ),
            )
        )
    if after_id:
        query = query.where(Customer.id < after_id)
    return list(session.scalars(query.order_by(Customer.id.desc()).limit(limit)))


def update_customer(
    session: Session,
    actor: Actor,
    customer: Customer,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    attributes: dict[str, Any] | None = None,
    locale: str | type[Ellipsis] | None = ...,
) -> Customer:
    """Edit the profile; a new email or phone becomes an identity unless another customer has it."""
    if not actor.is_agent and actor.type != "system":
        raise Forbidden("only agents edit customers")
    changes: dict[str, Any] = {}
    if name is not None:
        name = name.strip()[:200] or None
        if name != customer.name:
            changes["name"] = [customer.name, name]
            customer.name = name
    for kind, raw in ((IdentityKind.email, email), (IdentityKind.phone, phone)):
        if raw is None:
            continue
        value = normalise_email(raw) if kind is IdentityKind.email else normalise_phone(raw)
        owner = find_by_identity(session, kind, value)
        if owner is not None and owner.id != customer.id:
            raise Conflict(
                f"{value} belongs to another customer ({owner.public_id}); merge the two instead",
                code="identity_taken",
            )
        add_identity(session, customer, kind, value)
        field = kind.value
        if getattr(customer, field) != value:
            changes[field] = [getattr(customer, field), value]
            setattr(customer, field, value)
    if locale is not ...:
        from helpdesk.i18n import LOCALES

        if locale is not None and locale not in LOCALES:
            raise Invalid("locale", f"one of {', '.join(LOCALES)} or null")
        if locale != customer.locale:
            changes["locale"] = [customer.locale, locale]
            customer.locale = locale
    if attributes is not None:
        if not isinstance(attributes, dict):
            raise Invalid("attributes", "an object")
        customer.attributes = {**(customer.attributes or {}), **attributes}
        changes["attributes"] = sorted(attributes)
    session.flush()
    if changes:
        audit(session, actor, "customer.update", "customer", customer.public_id, changes=changes)
    return customer


def add_note(session: Session, actor: Actor, customer: Customer, body: str) -> CustomerNote:
    if not actor.is_agent:
        raise Forbidden("only agents write notes on customers")
    body = (body or "").strip() if isinstance(body, str) else ""
    if not body:
        raise Invalid("body", "must not be empty", code="empty_body")
    if len(body) > MAX_NOTE:
        raise Invalid("body", f"longer than {MAX_NOTE} characters", code="body_too_long")
    note = CustomerNote(customer_id=customer.id, author_id=actor.id, author_name=actor.name, body=body)
    session.add(note)
    session.flush()
    return note


def notes_of(session: Session, customer: Customer) -> list[CustomerNote]:
    return list(
        session.scalars(
            select(CustomerNote)
            .filter_by(customer_id=customer.id)
            .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc())
        )
    )


def crm_contacts_of(session: Session, customer: Customer) -> list[CrmContact]:
    return list(
        session.scalars(
            select(CrmContact).filter_by(customer_id=customer.id).order_by(CrmContact.synced_at.desc())
        )
    )


def merged_ids(session: Session, customer: Customer) -> list[int]:
    """This customer and every customer merged into it (directly or through a chain)."""
    ids = [customer.id]
    frontier = [customer.id]
    for _ in range(20):  # merge chains are short; the bound guards against a cycle
        frontier = list(session.scalars(select(Customer.id).where(Customer.merged_into_id.in_(frontier))))
        frontier = [i for i in frontier if i not in ids]
        if not frontier:
            break
        ids.extend(frontier)
    return ids


def require_manager(actor: Actor) -> None:
    require(actor, Role.manager)
