"""Merge two customers, split a wrongly merged identity off again, erase a customer (GDPR).

Only the crm/ side lives here: identities, CRM links, notes. Conversations (and later orders)
belong to higher rooms; the services in helpdesk/customers360 call these and move those rows in
the same transaction, writing what they moved into the same CustomerMerge record."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import events
from helpdesk.accounts.services import audit
from helpdesk.actors import Actor
from helpdesk.crm.models import CrmContact, Customer, CustomerMerge, CustomerNote, Identity, IdentityKind
from helpdesk.crm.services import require_manager, resolve
from helpdesk.errors import Forbidden, Invalid, NotFound
from helpdesk.events import Event


@dataclass(frozen=True)
class CustomersMerged(Event):
    """For higher rooms (orders): rows of `source_id` now belong to `target_id`."""

    target_id: int
    source_id: int
    merge_id: int


@dataclass(frozen=True)
class CustomerErased(Event):
    customer_id: int


def _agent(actor: Actor) -> None:
    if not actor.is_agent and actor.type != "system":
        raise Forbidden("only agents merge customers")


def merge_customers(session: Session, actor: Actor, target: Customer, source: Customer) -> CustomerMerge:
    """Fold `source` into `target`: its identities, CRM links and notes move; `source` stays as a
    tombstone (merged_into_id) so old links and ids still resolve to `target`."""
    _agent(actor)
    target, source = resolve(session, target), resolve(session, source)
    if target.id == source.id:
        raise Invalid("source", "a customer cannot be merged into itself", code="same_customer")
    moved: dict[str, list[int]] = {"identities": [], "crm_contacts": [], "notes": []}
    for identity in list(source.identities):
        identity.customer = target
        moved["identities"].append(identity.id)
    for link in session.scalars(select(CrmContact).filter_by(customer_id=source.id)):
        link.customer_id = target.id
        moved["crm_contacts"].append(link.id)
    for note in session.scalars(select(CustomerNote).filter_by(customer_id=source.id)):
        note.customer_id = target.id
        moved["notes"].append(note.id)
    for field in ("name", "email", "phone"):
        if not getattr(target, field) and getattr(source, field):
            setattr(target, field, getattr(source, field))
    attributes = dict(target.attributes or {})
    conflicts = [c for c in attributes.get("crm_conflicts", []) if c.get("other") != source.public_id]
    attributes["crm_conflicts"] = conflicts
    target.attributes = attributes
    source.merged_into_id = target.id
    record = CustomerMerge(
        action="merge", source_id=source.id, target_id=target.id, actor_name=actor.name, moved=moved
    )
    session.add(record)
    session.flush()
    audit(
        session,
        actor,
        "customer.merge",
        "customer",
        target.public_id,
        source=source.public_id,
        merge_id=record.id,
        identities=len(moved["identities"]),
        crm_contacts=len(moved["crm_contacts"]),
    )
    events.record(session, CustomersMerged(target.id, source.id, record.id))
    return record


def split_identity(session: Session, actor: Actor, customer: Customer, identity_id: int) -> CustomerMerge:
    """Move one identity off `customer`. If a merge brought it, it goes back to the customer it came
    from (revived); otherwise to a new customer. CRM links of that identity go with it."""
    _agent(actor)
    customer = resolve(session, customer)
    identity = session.get(Identity, identity_id)
    if identity is None or identity.customer_id != customer.id:
        raise NotFound("no such identity on this customer")
    if len(customer.identities) < 2:
        raise Invalid("identity", "the customer's only identity cannot be split off", code="last_identity")
    origin = None
    for merge in session.scalars(
        select(CustomerMerge)
        .filter_by(action="merge", target_id=customer.id)
        .order_by(CustomerMerge.id.desc())
    ):
        if identity.id in (merge.moved or {}).get("identities", []):
            origin = merge
            break
    if origin is not None:
        other = session.get(Customer, origin.source_id)
        other.merged_into_id = None
    else:
        other = Customer()
        session.add(other)
    identity.customer = other
    moved: dict[str, list[int]] = {"identities": [identity.id], "crm_contacts": []}
    contacts = session.scalars(select(CrmContact).filter_by(customer_id=customer.id)).all()
    for link in contacts:
        by_external = identity.kind is IdentityKind.external and (identity.provider, identity.value) == (
            link.provider,
            link.external_id,
        )
        by_email = identity.kind is IdentityKind.email and link.email == identity.value
        if by_external or by_email or (origin and link.id in origin.moved.get("crm_contacts", [])):
            link.customer_id = other.id
            moved["crm_contacts"].append(link.id)
            for ext in customer.identities:
                if ext.kind is IdentityKind.external and (ext.provider, ext.value) == (
                    link.provider,
                    link.external_id,
                ):
                    ext.customer = other
                    moved["identities"].append(ext.id)
    session.flush()
    if identity.kind is IdentityKind.email:
        other.email = other.email or identity.value
        if customer.email == identity.value:
            customer.email = next(
                (
                    i.value
                    for i in customer.identities
                    if i.kind is IdentityKind.email and i.id != identity.id
                ),
                None,
            )
    elif identity.kind is IdentityKind.phone:
        other.phone = other.phone or identity.value
        if customer.phone == identity.value:
            customer.phone = None
    record = CustomerMerge(
        action="split",
        source_id=customer.id,
        target_id=other.id,
        actor_name=actor.name,
        moved={**moved, "undoes": origin.id if origin else None},
    )
    session.add(record)
    session.flush()
    audit(
        session,
        actor,
        "customer.split",
        "customer",
        customer.public_id,
        to=other.public_id,
        identity=f"{identity.kind.value}:{identity.provider}",
        merge_id=record.id,
    )
    return record


def erase_customer(session: Session, actor: Actor, customer: Customer) -> Customer:
    """GDPR erasure of the crm/ side: profile, identities, CRM snapshots and notes go; the row stays
    (conversations point at it) as an anonymous shell. The CRM's own record is not deleted: the
    CRM is the system of record for it."""
    require_manager(actor)
    customer = resolve(session, customer)
    for table in (CrmContact, CustomerNote):
        for row in session.scalars(select(table).filter_by(customer_id=customer.id)):
            session.delete(row)
    for identity in list(customer.identities):
        session.delete(identity)
    for merged in session.scalars(select(Customer).filter_by(merged_into_id=customer.id)):
        merged.name = merged.email = merged.phone = None
        merged.attributes = {}
    customer.name = "Erased customer"
    customer.email = customer.phone = None
    customer.notes = ""
    customer.attributes = {"erased": True}
    session.flush()
    audit(session, actor, "customer.erase", "customer", customer.public_id)
    events.record(session, CustomerErased(customer.id))
    return customer
