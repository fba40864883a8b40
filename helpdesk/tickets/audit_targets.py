"""Names and links of this room's things in the audit log (see accounts/audit_view.py)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.tickets.models import Conversation, Inbox, Team


def inboxes(session: Session, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    return {i.public_id: (f"inbox {i.name}", url_for("tickets_admin.inboxes"))
            for i in session.scalars(select(Inbox).where(Inbox.public_id.in_(ids)))}


def teams(session: Session, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    return {t.public_id: (f"team {t.name}", url_for("tickets_admin.teams"))
            for t in session.scalars(select(Team).where(Team.public_id.in_(ids)))}


def conversations(session: Session, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    rows = session.execute(select(Conversation.public_id, Conversation.ref, Conversation.subject)
                           .where(Conversation.public_id.in_(ids)))
    return {public_id: (f"#{ref} {subject or '(no subject)'}",
                        url_for("console.conversation", public_id=public_id)) for public_id, ref, subject in rows}


def init_app(runtime: Any) -> None:
    runtime.provide("audit.target.inbox", inboxes)
    runtime.provide("audit.target.team", teams)
    runtime.provide("audit.target.conversation", conversations)
