"""Read side of the 360 view: one dict for the console page, the sidebar and GET /api/v1/customers/{id}."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from helpdesk.crm import services as crm
from helpdesk.crm.models import CrmContact, Customer, Identity
from helpdesk.orders import services as orders
from helpdesk.orders.serialize import order_dict
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import Conversation
from helpdesk.tickets.serialize import iso

TIMELINE_LIMIT = 200


def identity_key(identity: Identity) -> str:
    """How an identity is named outside: kind, provider and value, never a row number."""
    return ":".join(p for p in (identity.kind.value, identity.provider, identity.value) if p)


def identity_dict(identity: Identity) -> dict[str, Any]:
    return {
        "key": identity_key(identity),
        "kind": identity.kind.value,
        "provider": identity.provider or None,
        "value": identity.value,
        "verified": identity.verified,
        "created_at": iso(identity.created_at),
    }


def contact_dict(link: CrmContact) -> dict[str, Any]:
    return {
        "provider": link.provider,
        "external_id": link.external_id,
        "email": link.email,
        "name": link.name,
        "company": link.company,
        "lifecycle": link.lifecycle,
        "owner": link.owner,
        "deals": link.deals or [],
        "url": link.url,
        "synced_at": iso(link.synced_at),
        "remote_updated_at": iso(link.remote_updated_at),
    }


def orders_summary(session: Session, customer: Customer, limit: int = 10) -> dict[str, Any]:
    """The orders part of the view: lifetime value, count, average and the latest orders."""
    value, count, average, currency = orders.customer_order_stats(session, customer)
    return {
        "items": [order_dict(o) for o in orders.recent_orders(session, customer, limit=limit)],
        "order_count": count,
        "lifetime_value": f"{value:.2f}",
        "average_order_value": f"{average:.2f}",
        "currency": currency,
    }


def csat_of(session: Session, conversation_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The answered CSAT survey of each conversation: {id: {"score", "comment", "answered_at"}}."""
    if not conversation_ids:
        return {}
    rows = session.execute(select(CsatSurvey.conversation_id, CsatSurvey.score, CsatSurvey.comment,
                                  CsatSurvey.answered_at)
                           .where(CsatSurvey.conversation_id.in_(conversation_ids), CsatSurvey.score.is_not(None)))
    return {cid: {"score": score, "comment": comment or "", "answered_at": iso(answered)}
            for cid, score, comment, answered in rows}


def conversations_of(
    session: Session, customer_ids: list[int], limit: int = TIMELINE_LIMIT
) -> list[Conversation]:
    return list(
        session.scalars(
            select(Conversation)
            .options(selectinload(Conversation.inbox))
            .where(Conversation.customer_id.in_(customer_ids))
            .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
            .limit(limit)
        )
    )


def customer_360(session: Session, customer: Customer, limit: int = TIMELINE_LIMIT, *,
                 crm_provider: str | None = None) -> dict[str, Any]:
    """The whole customer; `crm_provider` is the app's active CRM (sync.provider_name(settings))."""
    customer = crm.resolve(session, customer)
    ids = crm.merged_ids(session, customer)
    contacts = crm.crm_contacts_of(session, customer)
    primary = next(
        (c for c in contacts if c.provider == crm_provider), contacts[0] if contacts else None
    )
    conversations = conversations_of(session, ids, limit)
    csat = csat_of(session, [c.id for c in conversations])
    scores = [v["score"] for v in csat.values() if v.get("score")]
    links = {}
    if conversations and crm_provider:
        from helpdesk.crm.models import CrmConversationLink

        links = {
            link.conversation_id: link
            for link in session.scalars(
                select(CrmConversationLink).where(
                    CrmConversationLink.provider == crm_provider,
                    CrmConversationLink.conversation_id.in_([c.id for c in conversations]),
                )
            )
        }
    deals = primary.deals if primary else []
    return {
        "id": customer.public_id,
        "name": customer.name,
        "display_name": customer.display_name,
        "email": customer.email,
        "phone": customer.phone,
        "created_at": iso(customer.created_at),
        "updated_at": iso(customer.updated_at),
        "attributes": {k: v for k, v in (customer.attributes or {}).items() if k != "crm_conflicts"},
        "identities": [identity_dict(i) for i in sorted(customer.identities, key=lambda i: i.id)],
        "crm": {
            "provider": primary.provider if primary else crm_provider,
            "external_id": primary.external_id if primary else None,
            "url": primary.url if primary else None,
            "company": primary.company if primary else None,
            "lifecycle": primary.lifecycle if primary else None,
            "owner": primary.owner if primary else None,
            "deals": deals,
            "open_deal_value": _open_value(deals),
            "synced_at": iso(primary.synced_at) if primary else None,
            "records": [contact_dict(c) for c in contacts],
        },
        "conflicts": list((customer.attributes or {}).get("crm_conflicts", [])),
        "orders": orders_summary(session, customer),
        "conversations": [
            {
                "id": c.public_id,
                "ref": c.ref,
                "subject": c.subject,
                "channel": c.channel.value,
                "status": c.status.value,
                "inbox": c.inbox.name,
                "created_at": iso(c.created_at),
                "last_activity_at": iso(c.last_activity_at),
                "csat": csat.get(c.id),
                "crm_url": links[c.id].url if c.id in links else None,
            }
            for c in conversations
        ],
        "csat": {
            "responses": len(scores),
            "average": round(sum(scores) / len(scores), 2) if scores else None,
        },
        "notes": [
            {"id": n.public_id, "body": n.body, "author": n.author_name, "created_at": iso(n.created_at)}
            for n in crm.notes_of(session, customer)
        ],
    }


def _open_value(deals: list[dict[str, Any]]) -> str:
    total = 0.0
    for deal in deals:
        stage = (deal.get("stage") or "").lower()
        if "closed" in stage or "won" in stage or "lost" in stage:
            continue
        try:
            total += float(deal.get("amount") or 0)
        except ValueError:
            continue
    return f"{total:.2f}"


def customer_summary(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.public_id,
        "name": customer.name,
        "display_name": customer.display_name,
        "email": customer.email,
        "phone": customer.phone,
        "created_at": iso(customer.created_at),
    }
