"""Push side of the CRM bridge: conversations out as HubSpot tickets or Salesforce Cases, the
transcript when resolved, the CSAT answer. One link per conversation (unique), looked up before
anything is created, so a retried job never makes a second ticket."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.crm.contacts import link_contact
from helpdesk.crm.models import CrmContact, CrmConversationLink, Customer, LinkState
from helpdesk.crm.provider import ConversationPush, CRMProvider, RemoteTicket
from helpdesk.crm.services import resolve
from helpdesk.crm.sync import PUSH, _count, _settings, active_provider, guarded, provider_name, sync_state
from helpdesk.db import utcnow


def enqueue_push(
    session: Session,
    push: ConversationPush,
    customer_id: int,
    action: str,
    csat: dict[str, Any] | None = None,
) -> jobs.Job | None:
    """Queue a push of a conversation (open, update, resolve, csat); the newest snapshot wins."""
    name = provider_name()
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


def _contact_for(
    session: Session, prov: CRMProvider, customer: Customer, push: ConversationPush
) -> str | None:
    link = session.scalar(
        select(CrmContact).filter_by(provider=prov.name, customer_id=customer.id).order_by(CrmContact.id)
    )
    if link is not None:
        return link.external_id
    email = customer.email or push.customer_email
    if not email:
        return None
    # Look before creating: a retry after a crash finds the contact the first attempt made.
    contact = prov.find_contact(email)
    if contact is None:
        if not _settings.get("CRM_CREATE_CONTACTS", True):
            return None
        contact = prov.create_contact(email, customer.name or push.customer_name, customer.phone)
        _count(sync_state(session, prov.name), contacts_created=1)
    link_contact(session, prov.name, customer, contact)
    return contact.external_id


def _push(session: Session, prov: CRMProvider, payload: dict[str, Any]) -> None:
    push = ConversationPush(**payload["push"])
    action = payload["action"]
    state = sync_state(session, prov.name)
    customer = session.get(Customer, payload["customer_id"])
    if customer is None:
        return
    customer = resolve(session, customer)
    contact_id = _contact_for(session, prov, customer, push)
    if contact_id is None:
        _count(state, skipped=1)
        return
    link = session.scalar(
        select(CrmConversationLink).filter_by(provider=prov.name, conversation_id=push.conversation_id)
    )
    ticket: RemoteTicket | None = None
    if link is None or link.state is LinkState.creating:
        retry = link is not None
        if link is None:
            link = CrmConversationLink(
                provider=prov.name,
                conversation_id=push.conversation_id,
                conversation_ref=push.ref,
                contact_external_id=contact_id,
                state=LinkState.creating,
            )
            session.add(link)
        # The "creating" mark is committed before the remote create: a retry after a crash in
        # between looks the ticket up by its [#REF] instead of creating a second one.
        session.commit()
        ticket = (prov.find_ticket(push.ref) if retry else None) or prov.create_ticket(contact_id, push)
        link.external_id = ticket.external_id
        link.url = ticket.url
        link.state = LinkState.linked
        _count(state, tickets=1)
        session.commit()
    if action in ("update", "resolve") and ticket is None:
        prov.update_ticket(link.external_id, push)
    if action == "resolve" and link.transcript_pushed_at is None and push.transcript:
        prov.add_transcript(link.external_id, contact_id, push)
        link.transcript_pushed_at = utcnow()
        _count(state, transcripts=1)
    if action == "csat" and link.csat_pushed_at is None and payload.get("csat"):
        csat = payload["csat"]
        prov.record_csat(link.external_id, contact_id, int(csat["score"]), str(csat.get("comment") or ""))
        link.csat_pushed_at = utcnow()
        _count(state, csat=1)
    session.flush()


@jobs.handler(PUSH)
def push_job(session: Session, payload: dict[str, Any]) -> None:
    prov = active_provider(session)
    if prov is None or prov.name != payload.get("provider"):
        return
    guarded(session, prov, lambda: _push(session, prov, payload))


def conversation_link(session: Session, conversation_id: int) -> CrmConversationLink | None:
    name = provider_name()
    if name is None:
        return None
    return session.scalar(
        select(CrmConversationLink).filter_by(provider=name, conversation_id=conversation_id)
    )
