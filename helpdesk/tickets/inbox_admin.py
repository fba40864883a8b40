"""Editing inboxes after they exist: rename, team, support address, a new ingest token, delete.

Delete is refused while an inbox holds conversations (they would lose their channel, reports and
history); an admin moves or erases those first. An empty inbox (a typo, a test) just goes."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit, normalise_email, require
from helpdesk.actors import Actor
from helpdesk.errors import Conflict, Invalid
from helpdesk.tickets.models import Channel, Conversation, Inbox, InboxAddress, Team
from helpdesk.tickets.services import hash_secret


def update_inbox(session: Session, actor: Actor, inbox: Inbox, *, name: str, team: Team | None,
                 address: str | None = None) -> Inbox:
    require(actor, Role.admin)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise Invalid("name", "1 to 120 characters")
    changes: dict[str, list[str | None]] = {}
    if name != inbox.name:
        if session.scalar(select(Inbox.id).where(Inbox.name == name, Inbox.id != inbox.id)):
            raise Conflict(f"an inbox named {name!r} exists", code="inbox_exists")
        changes["name"] = [inbox.name, name]
        inbox.name = name
    if (team.id if team else None) != inbox.team_id:
        changes["team"] = [inbox.team.name if inbox.team else None, team.name if team else None]
        inbox.team = team
    if inbox.channel is Channel.email and address is not None:
        current = inbox.addresses[0].address if inbox.addresses else None
        wanted = normalise_email(address) if address.strip() else None
        if wanted != current:
            if wanted and session.scalar(select(InboxAddress.id).where(InboxAddress.address == wanted,
                                                                       InboxAddress.inbox_id != inbox.id)):
                raise Conflict(f"{wanted} already belongs to an inbox", code="address_taken")
            inbox.addresses.clear()
            session.flush()
            if wanted:
                inbox.addresses.append(InboxAddress(address=wanted))
            changes["address"] = [current, wanted]
    session.flush()
    if changes:
        audit(session, actor, "inbox.update", "inbox", inbox.public_id, changes=changes)
    return inbox


def new_ingest_token(session: Session, actor: Actor, inbox: Inbox) -> str:
    """A fresh ingest token for an email inbox; the old one stops working at once. Shown once."""
    require(actor, Role.admin)
    if inbox.channel is not Channel.email:
        raise Invalid("inbox", "only email inboxes have an ingest token")
    shown = "ing_" + secrets.token_urlsafe(32)
    inbox.ingest_token_hash = hash_secret(shown)
    audit(session, actor, "inbox.token", "inbox", inbox.public_id)
    return shown


def delete_inbox(session: Session, actor: Actor, inbox: Inbox) -> None:
    require(actor, Role.admin)
    held = session.scalar(select(func.count()).select_from(Conversation).where(Conversation.inbox_id == inbox.id))
    if held:
        raise Conflict(f"{inbox.name} still holds {held} conversation{'s' if held != 1 else ''}; "
                       "it can be deleted once it is empty", code="inbox_not_empty")
    audit(session, actor, "inbox.delete", "inbox", inbox.public_id, name=inbox.name)
    session.delete(inbox)
    session.flush()
