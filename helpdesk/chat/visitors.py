"""Chat visitors: the anonymous token, the HMAC-verified identity, and the visitor's conversations."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select, union, update
from sqlalchemy.orm import Session, joinedload

from helpdesk.actors import SYSTEM, Actor, customer_actor
from helpdesk.chat.models import ChatVisitor, VisitorConversation
from helpdesk.crm import services as crm
from helpdesk.crm.merging import CustomerErased
from helpdesk.crm.models import Customer, Identity, IdentityKind
from helpdesk.db import utcnow
from helpdesk.errors import Invalid, NotFound, Unauthorized
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Inbox, Status

TOKEN_BYTES = 24  # 192 bits: well past the 128 the architecture asks for
MAX_TOKEN = 128
MAX_NAME = 200
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class VisitorSession:
    """What a widget connection holds after `connect`: the raw token goes back to the browser once."""

    visitor: ChatVisitor
    token: str
    verified: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def inbox_for_site(session: Session, site_key: object) -> Inbox:
    inbox = tickets.inbox_for_site_key(session, site_key) if isinstance(site_key, str) else None
    if inbox is None:
        raise Unauthorized("unknown site key", code="unknown_site")
    return inbox


def actor_of(session: Session, visitor: ChatVisitor) -> Actor:
    return customer_actor(owner_of(session, visitor))


def owner_of(session: Session, visitor: ChatVisitor) -> Customer:
    """The customer the visitor's new conversations belong to: their record, after merges."""
    return crm.resolve(session, ensure_customer(session, visitor))


def is_verified(session: Session, customer: Customer | None) -> bool:
    if customer is None:
        return False
    return session.scalar(select(Identity.id).filter_by(customer_id=customer.id, kind=IdentityKind.email,
                                                        verified=True).limit(1)) is not None


def start(session: Session, inbox: Inbox, token: object = None,
          identity: object = None) -> VisitorSession:
    """Resume the visitor of `token` on this site, or make a new one; then apply a signed identity.

    A token of another site, or one we never gave out, is refused: it must not silently become a
    new visitor either, or a typo'd site key would scatter a shopper's history."""
    if token not in (None, ""):
        visitor = resume(session, inbox, token)
        visitor.last_seen_at = utcnow()
    else:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        visitor = ChatVisitor(token_hash=hash_token(token), inbox=inbox)
        session.add(visitor)
        session.flush()
    if isinstance(identity, dict) and identity.get("email"):
        identify(session, visitor, email=identity.get("email"), name=identity.get("name"),
                 signature=identity.get("hmac"))
    session.flush()
    return VisitorSession(visitor, token, visitor.verified)


def ensure_customer(session: Session, visitor: ChatVisitor) -> Customer:
    """The visitor's customer record, made when they first write or leave contact details."""
    if visitor.customer is None:
        customer = Customer(attributes={"source": "chat"})
        session.add(customer)
        session.flush()
        crm.add_identity(session, customer, IdentityKind.visitor, visitor.public_id)
        visitor.customer = customer
        session.flush()
    return visitor.customer


def resume(session: Session, inbox: Inbox, token: object) -> ChatVisitor:
    """The visitor holding `token` on this site; a token of another site is as good as none."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        raise Unauthorized("the visitor token is not valid", code="invalid_token")
    visitor = session.scalar(select(ChatVisitor).filter_by(token_hash=hash_token(token)))
    if visitor is None or visitor.inbox_id != inbox.id:
        raise Unauthorized("the visitor token is not valid for this site", code="invalid_token")
    _follow_merges(session, visitor)
    return visitor


def _follow_merges(session: Session, visitor: ChatVisitor) -> None:
    # Only a verified browser follows its customer into a merge. An anonymous one keeps its own
    # (tombstone) record for what it shows and edits: an agent merging a visitor who typed Ann's
    # address into Ann must not hand that browser Ann's name, email or conversations.
    if visitor.verified and visitor.customer is not None:
        visitor.customer = crm.resolve(session, visitor.customer)


def signature_ok(inbox: Inbox, email: str, signature: object) -> bool:
    if not inbox.secret or not isinstance(signature, str) or not signature:
        return False
    expected = hmac.new(inbox.secret.encode(), email.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def identify(session: Session, visitor: ChatVisitor, *, email: object, name: object = None,
             signature: object = None) -> bool:
    """Apply the shop's signed identity. A wrong or missing HMAC is ignored (False): it never
    attaches the visitor to the customer who owns that email."""
    if not isinstance(email, str) or not signature_ok(visitor.inbox, email.strip(), signature):
        return False
    target = crm.customer_for_email(session, SYSTEM, email.strip(), _clean_name(name))
    crm.add_identity(session, target, IdentityKind.email, target.email or email.strip().lower(),
                     verified=True)
    current = visitor.customer
    if current is not None and current.id != target.id and not visitor.verified \
            and current.merged_into_id is None and not is_verified(session, current):
        # An anonymous visitor becoming known: their chats so far join the known customer.
        session.execute(update(Conversation).where(Conversation.customer_id == current.id)
                        .values(customer_id=target.id))
        for identity in session.scalars(select(Identity).filter_by(customer_id=current.id)):
            identity.customer_id = target.id
        current.merged_into_id = target.id
    # A verified visitor switching to another shopper (a shared computer) keeps nothing.
    visitor.customer = target
    visitor.verified = True
    session.flush()
    return True


def update_contact(session: Session, visitor: ChatVisitor, *, email: object = None,
                   name: object = None) -> Customer:
    """The pre-chat or offline form. An unverified email is stored as contact data only: it never
    links the visitor to the customer record that already owns that address."""
    customer = ensure_customer(session, visitor)
    if name is not None:
        clean = _clean_name(name)
        if clean is None:
            raise Invalid("name", f"1 to {MAX_NAME} characters")
        customer.name = clean
    if email is not None:
        if not isinstance(email, str) or len(email) > 254 or not EMAIL_RE.match(email.strip()):
            raise Invalid("email", "not an email address")
        if not visitor.verified and not is_verified(session, customer):
            customer.email = email.strip().lower()
    session.flush()
    return customer


def _clean_name(name: object) -> str | None:
    if not isinstance(name, str):
        return None
    name = " ".join(name.split())[:MAX_NAME]
    return name or None


def conversations(session: Session, visitor: ChatVisitor, limit: int = 20) -> list[Conversation]:
    """The visitor's conversations on this site, newest first: a verified shopper's are all of
    their customer's; an unverified browser's are only those it started itself."""
    if visitor.customer_id is None:
        return []
    query = select(Conversation).filter_by(inbox_id=visitor.inbox_id)
    if visitor.verified:
        query = query.filter_by(customer_id=visitor.customer_id)
    else:
        query = query.where(Conversation.id.in_(select(VisitorConversation.conversation_id)
                                                .filter_by(visitor_id=visitor.id)))
    return list(session.scalars(query.order_by(Conversation.created_at.desc(), Conversation.id.desc())
                                .limit(limit)))


def record_started(session: Session, visitor: ChatVisitor, conversation: Conversation) -> None:
    """Remember that this browser opened the conversation: its key to it, whatever merges follow."""
    session.add(VisitorConversation(visitor_id=visitor.id, conversation_id=conversation.id))
    session.flush()


def _started(session: Session, visitor: ChatVisitor, conversation: Conversation) -> bool:
    return session.scalar(select(VisitorConversation.id).filter_by(
        visitor_id=visitor.id, conversation_id=conversation.id)) is not None


def current_conversation(session: Session, visitor: ChatVisitor) -> Conversation | None:
    """The conversation the widget shows: the latest one still going, else the latest at all."""
    items = conversations(session, visitor)
    return next((c for c in items if c.status is not Status.resolved), items[0] if items else None)


def conversation_of(session: Session, visitor: ChatVisitor, public_id: object,
                    started: Collection[str] = (), *, lean: bool = False) -> Conversation:
    """One of the visitor's own conversations; anyone else's is 'not found', never 'forbidden'.

    `started`: public ids this browser is already known to have started (its socket keeps them),
    so the look-up of its start record is skipped for those. A start record is never taken back
    while the visitor exists (an erase deletes the visitor with it), so the memory cannot go stale."""
    conversation = tickets.conversation_by_public_id(session, public_id, lean=lean) \
        if isinstance(public_id, str) else None
    if conversation is None or conversation.inbox_id != visitor.inbox_id:
        raise NotFound("no such conversation")
    if visitor.verified:
        mine = conversation.customer_id == visitor.customer_id
    else:
        mine = conversation.public_id in started or _started(session, visitor, conversation)
    if not mine:
        raise NotFound("no such conversation")
    return conversation


# Every widget event reads the visitor and then its customer: one round trip, statement built once.
_VISITOR = select(ChatVisitor).where(ChatVisitor.id == bindparam("visitor_id")).options(
    joinedload(ChatVisitor.customer))


def visitor_by_id(session: Session, visitor_id: int) -> ChatVisitor:
    visitor = session.scalar(_VISITOR, {"visitor_id": visitor_id})
    if visitor is None:
        raise Unauthorized("the visitor session has ended", code="invalid_token")
    _follow_merges(session, visitor)
    return visitor


def visitor_ids_of(session: Session, conversation: Conversation) -> list[int]:
    """Every browser that may see this conversation: the verified browsers of its customer on its
    site, and the browsers that started it. One query: this runs for every message emitted."""
    return list(session.connection().execute(_VISITOR_IDS, {
        "inbox_id": conversation.inbox_id, "conversation_id": conversation.id,
        "customer_id": conversation.customer_id}).scalars())


# Built once (composing and coercing it per message was a measurable share of the message's CPU).
# Two index look-ups, not one OR: with the OR SQLite walked every browser the inbox ever had
# (ix_chat_visitors_inbox_id) for each message, which grows with the shop's traffic.
# The site is checked on the customer's few browsers (`+ 0`: no index on it, or SQLite may pick
# the inbox's without statistics).
_VISITOR_IDS = union(
    select(ChatVisitor.__table__.c.id).where(ChatVisitor.__table__.c.customer_id == bindparam("customer_id"),
                                             ChatVisitor.__table__.c.inbox_id + 0 == bindparam("inbox_id"),
                                             ChatVisitor.__table__.c.verified.is_(True)),
    select(VisitorConversation.__table__.c.visitor_id).where(
        VisitorConversation.__table__.c.conversation_id == bindparam("conversation_id")))


def erase_visitors(session: Session, ev: CustomerErased) -> None:
    """GDPR erase (an in-transaction listener of crm's CustomerErased, in the erase's own
    transaction): the browsers of the customer and of every record merged into it lose their
    tokens and sessions, and files they uploaded but never sent go too."""
    from helpdesk.chat.models import ChatUpload
    from helpdesk.tickets.models import Attachment

    customer = session.get(Customer, ev.customer_id)
    if customer is None:
        return
    customer_ids = crm.merged_ids(session, customer)
    visitor_ids = list(session.scalars(select(ChatVisitor.id).where(
        ChatVisitor.customer_id.in_(customer_ids))))
    if not visitor_ids:
        return
    unsent = select(ChatUpload.attachment_id).where(ChatUpload.visitor_id.in_(visitor_ids))
    session.execute(delete(Attachment).where(Attachment.id.in_(unsent), Attachment.message_id.is_(None))
                    .execution_options(synchronize_session=False))
    session.execute(delete(ChatVisitor).where(ChatVisitor.id.in_(visitor_ids))
                    .execution_options(synchronize_session=False))
