"""Push side of the CRM bridge: conversations out as HubSpot tickets or Salesforce Cases, the
transcript when resolved, the CSAT answer. One link per conversation (unique), looked up before
anything is created, so a retried job never makes a second ticket. No CRM call runs inside a
transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.crm.contacts import link_contact
from helpdesk.crm.models import CrmContact, CrmConversationLink, Customer, LinkState
from helpdesk.crm.provider import ConversationPush, CRMContact, CRMProvider, RemoteTicket
from helpdesk.crm.services import resolve
from helpdesk.crm.sync import PUSH, _count, _healthy, active_provider, guarded, provider_name, sync_state
from helpdesk.db import utcnow
from helpdesk.runtime import JobContext


def enqueue_push(
    session: Session,
    settings: Mapping[str, Any],
    push: ConversationPush,
    customer_id: int,
    action: str,
    csat: dict[str, Any] | None = None,
) -> jobs.Job | None:
    """Queue a push of a conversation (open, update, resolve, csat); the newest snapshot wins."""
    name = provider_name(settings)
    if name is None:
        return None
    payload = {
        "provider": name,
        "action": action,
        "customer_id": customer_id,
        "push": asdict(push),
        "csat": csat,
    }
    job = jobs.enqueue(session, PUSH, payload, dedupe_key=f"{PUSH}:{name}:{push.conversation_id}:{action}")
    if job.state is jobs.JobState.queued:
        job.payload = payload
    return job


@dataclass
class _Known:
    """What the database knows before the CRM is called (read in a short transaction)."""

    customer_id: int
    email: str | None
    name: str | None
    phone: str | None
    contact_id: str | None
    link_state: LinkState | None
    ticket_id: str | None
    transcript_pushed: bool
    csat_pushed: bool


def _read(session: Session, prov: CRMProvider, payload: dict[str, Any], push: ConversationPush) -> _Known | None:
    customer = session.get(Customer, payload["customer_id"])
    if customer is None:
        return None
    customer = resolve(session, customer)
    contact = session.scalar(
        select(CrmContact).filter_by(provider=prov.name, customer_id=customer.id).order_by(CrmContact.id)
    )
    link = session.scalar(
        select(CrmConversationLink).filter_by(provider=prov.name, conversation_id=push.conversation_id)
    )
    return _Known(
        customer_id=customer.id, email=customer.email or push.customer_email,
        name=customer.name or push.customer_name, phone=customer.phone,
        contact_id=contact.external_id if contact else None,
        link_state=link.state if link else None, ticket_id=link.external_id if link else None,
        transcript_pushed=bool(link and link.transcript_pushed_at), csat_pushed=bool(link and link.csat_pushed_at),
    )


def _link(session: Session, prov: CRMProvider, push: ConversationPush) -> CrmConversationLink | None:
    return session.scalar(
        select(CrmConversationLink).filter_by(provider=prov.name, conversation_id=push.conversation_id)
    )


def push_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Push one conversation. Every CRM call runs with no transaction open; what it returns is
    written in a short transaction right after, so a retry after a crash finds it (the contact
    is looked up before it is created, the ticket by its [#REF] once a create was begun)."""
    prov = active_provider(ctx)
    if prov is None or prov.name != payload.get("provider"):
        return
    push = ConversationPush(**payload["push"])
    action = payload["action"]
    with ctx.db.unit_of_work() as session:
        known = _read(session, prov, payload, push)
    if known is None:
        return
    contact_id = known.contact_id
    if contact_id is None:
        contact_id = _find_or_create_contact(ctx, prov, known)
        if contact_id is None:
            with ctx.db.unit_of_work() as session:
                _count(sync_state(session, prov.name), skipped=1)
            return
    ticket: RemoteTicket | None = None
    ticket_id = known.ticket_id
    if known.link_state is None or known.link_state is LinkState.creating:
        retry = known.link_state is not None
        if not retry:
            # The "creating" mark is committed before the remote create: a retry after a crash in
            # between looks the ticket up by its [#REF] instead of creating a second one.
            with ctx.db.unit_of_work() as session:
                session.add(CrmConversationLink(
                    provider=prov.name, conversation_id=push.conversation_id, conversation_ref=push.ref,
                    contact_external_id=contact_id, state=LinkState.creating))
        ticket = guarded(ctx, prov, lambda: (prov.find_ticket(push.ref) if retry else None)
                         or prov.create_ticket(contact_id, push))
        ticket_id = ticket.external_id
        with ctx.db.unit_of_work() as session:
            link = _link(session, prov, push)
            if link is not None:
                link.external_id = ticket.external_id
                link.url = ticket.url
                link.state = LinkState.linked
            state = sync_state(session, prov.name)
            _count(state, tickets=1)
            _healthy(state)
    assert ticket_id is not None
    done: dict[str, Any] = {}
    if action in ("update", "resolve") and ticket is None:
        guarded(ctx, prov, lambda: prov.update_ticket(ticket_id, push))
    if action == "resolve" and not known.transcript_pushed and push.transcript:
        guarded(ctx, prov, lambda: prov.add_transcript(ticket_id, contact_id, push))
        done["transcript_pushed_at"] = utcnow()
    if action == "csat" and not known.csat_pushed and payload.get("csat"):
        csat = payload["csat"]
        guarded(ctx, prov, lambda: prov.record_csat(ticket_id, contact_id, int(csat["score"]),
                                                    str(csat.get("comment") or "")))
        done["csat_pushed_at"] = utcnow()
    with ctx.db.unit_of_work() as session:
        link = _link(session, prov, push)
        state = sync_state(session, prov.name)
        _healthy(state)
        if link is not None:
            for column, value in done.items():
                setattr(link, column, value)
        _count(state, **{"transcripts" if k == "transcript_pushed_at" else "csat": 1 for k in done})


def _find_or_create_contact(ctx: JobContext, prov: CRMProvider, known: _Known) -> str | None:
    if not known.email:
        return None
    email = known.email
    # Look before creating: a retry after a crash finds the contact the first attempt made.
    contact: CRMContact | None = guarded(ctx, prov, lambda: prov.find_contact(email))
    created = False
    if contact is None:
        if not ctx.settings.get("CRM_CREATE_CONTACTS", True):
            return None
        contact = guarded(ctx, prov, lambda: prov.create_contact(email, known.name, known.phone))
        created = True
    with ctx.db.unit_of_work() as session:
        customer = session.get(Customer, known.customer_id)
        if customer is not None:
            link_contact(session, prov.name, resolve(session, customer), contact)
        if created:
            _count(sync_state(session, prov.name), contacts_created=1)
    return contact.external_id


def conversation_link(session: Session, settings: Mapping[str, Any],
                      conversation_id: int) -> CrmConversationLink | None:
    name = provider_name(settings)
    if name is None:
        return None
    return session.scalar(
        select(CrmConversationLink).filter_by(provider=name, conversation_id=conversation_id)
    )
