"""Use cases over the whole customer: merge and split move conversations with the crm/ records,
erase and export cover everything the helpdesk holds about a person."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpdesk.actors import Actor
from helpdesk.crm import merging
from helpdesk.crm import services as crm
from helpdesk.crm.models import Customer, CustomerMerge
from helpdesk.customers360 import erasure
from helpdesk.customers360.queries import conversations_of, customer_360, identity_key
from helpdesk.errors import NotFound
from helpdesk.tickets import search
from helpdesk.tickets.models import Conversation
from helpdesk.tickets.serialize import message_dict

ERASED = "[erased]"
EXPORT_LIMIT = 10_000


def merge(session: Session, actor: Actor, target: Customer, source: Customer) -> CustomerMerge:
    """Merge `source` into `target`; their conversations move too, in the same transaction."""
    record = merging.merge_customers(session, actor, target, source)
    moved = list(session.scalars(select(Conversation.id).where(Conversation.customer_id == record.source_id)))
    if moved:
        session.execute(
            update(Conversation)
            .where(Conversation.id.in_(moved))
            .values(customer_id=record.target_id)
            .execution_options(synchronize_session="fetch")
        )
    record.moved = {**record.moved, "conversations": moved}
    session.flush()
    search.refresh_headers(session, conversation_ids=moved)  # now found by the target's name
    return record


def split(session: Session, actor: Actor, customer: Customer, key: str) -> CustomerMerge:
    """Split an identity off; when it came with a merge, the conversations of that merge go back."""
    customer = crm.resolve(session, customer)
    identity = next((i for i in customer.identities if identity_key(i) == key), None)
    if identity is None:
        raise NotFound("no such identity on this customer")
    record = merging.split_identity(session, actor, customer, identity.id)
    back: list[int] = []
    if undone := (record.moved or {}).get("undoes"):
        origin = session.get(CustomerMerge, undone)
        back = [cid for cid in (origin.moved or {}).get("conversations", [])]
        if back:
            session.execute(
                update(Conversation)
                .where(Conversation.id.in_(back), Conversation.customer_id == customer.id)
                .values(customer_id=record.target_id)
                .execution_options(synchronize_session="fetch")
            )
    record.moved = {**record.moved, "conversations": back}
    session.flush()
    search.refresh_headers(session, conversation_ids=back)
    return record


def erase(session: Session, actor: Actor, customer: Customer, *, crm_delete: bool = False,
          mailchimp: bool = False) -> Customer:
    """GDPR erasure everywhere (see customers360.erasure); `crm_delete` also asks the CRM, and
    `mailchimp` the Mailchimp audience, as jobs."""
    return erasure.erase(session, actor, customer, crm_delete=crm_delete, mailchimp=mailchimp)


def export(session: Session, customer: Customer, *, crm_provider: str | None = None) -> dict[str, Any]:
    """Everything about the customer in one JSON document (the right of access): the 360 view
    and the public messages of every conversation. Agents' private notes are internal and left out."""
    customer = crm.resolve(session, customer)
    data = customer_360(session, customer, limit=EXPORT_LIMIT, crm_provider=crm_provider)
    conversations = conversations_of(session, crm.merged_ids(session, customer), limit=EXPORT_LIMIT)
    messages = {c.id: [message_dict(m) for m in c.messages if not m.private] for c in conversations}
    data["conversations"] = [
        {**item, "messages": messages.get(conv.id, [])}
        for item, conv in zip(data["conversations"], conversations, strict=False)
    ]
    data["export_format"] = "helpdesk.customer.v1"
    return data
