"""Customers and their identities."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.accounts.services import normalise_email
from helpdesk.actors import Actor
from helpdesk.crm.models import Customer, Identity, IdentityKind
from helpdesk.errors import Invalid, NotFound


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


def add_identity(session: Session, customer: Customer, kind: IdentityKind, value: str,
                 provider: str = "", verified: bool = False) -> Identity:
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


def create_customer(session: Session, actor: Actor, *, email: str | None = None, name: str | None = None,
                    phone: str | None = None) -> Customer:
    if not (email or name or phone):
        raise Invalid("customer", "give at least an email, a name or a phone")
    if email:
        return customer_for_email(session, actor, email, name)
    customer = Customer(name=(name or "").strip()[:200] or None, phone=(phone or "").strip()[:40] or None)
    session.add(customer)
    session.flush()
    if customer.phone:
        add_identity(session, customer, IdentityKind.phone, customer.phone)
    return customer


def get_customer(session: Session, public_id: str) -> Customer:
    customer = session.scalar(select(Customer).filter_by(public_id=public_id))
    if customer is None:
        raise NotFound("no such customer")
    return resolve(session, customer)
