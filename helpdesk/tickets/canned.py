"""Canned replies: saved answers agents insert into the composer, with a few placeholders."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit, require
from helpdesk.actors import Actor
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.tickets.models import CannedReply, Conversation

SHORTCUT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
PLACEHOLDERS = ("customer.name", "customer.first_name", "agent.name", "conversation.ref")


def save_canned_reply(session: Session, actor: Actor, *, shortcut: str, title: str, body: str,
                      reply: CannedReply | None = None) -> CannedReply:
    require(actor, Role.manager)
    shortcut = (shortcut or "").strip().lower()
    if not SHORTCUT_RE.match(shortcut):
        raise Invalid("shortcut", "1 to 40 lower-case letters, digits, - or _")
    title, body = (title or "").strip(), (body or "").strip()
    if not title or len(title) > 120:
        raise Invalid("title", "1 to 120 characters")
    if not body or len(body) > 10_000:
        raise Invalid("body", "1 to 10000 characters")
    clash = session.scalar(select(CannedReply).filter_by(shortcut=shortcut))
    if clash is not None and clash is not reply:
        raise Conflict(f"the shortcut /{shortcut} is taken", code="shortcut_taken")
    if reply is None:
        reply = CannedReply(created_by_id=actor.id)
        session.add(reply)
    reply.shortcut, reply.title, reply.body = shortcut, title, body
    session.flush()
    audit(session, actor, "canned_reply.save", "canned_reply", reply.public_id, shortcut=shortcut)
    return reply


def delete_canned_reply(session: Session, actor: Actor, public_id: str) -> None:
    require(actor, Role.manager)
    reply = session.scalar(select(CannedReply).filter_by(public_id=public_id))
    if reply is None:
        raise NotFound("no such canned reply")
    session.delete(reply)
    audit(session, actor, "canned_reply.delete", "canned_reply", public_id, shortcut=reply.shortcut)
    session.flush()


def render(body: str, conversation: Conversation, agent_name: str) -> str:
    """Fill the placeholders for this conversation; unknown ones are left as typed."""
    name = conversation.customer.name or ""
    values = {"customer.name": name or "there", "customer.first_name": (name.split() or ["there"])[0],
              "agent.name": agent_name, "conversation.ref": conversation.ref}
    return re.sub(r"\{\{\s*([\w.]+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), body)


def all_replies(session: Session) -> list[CannedReply]:
    return list(session.scalars(select(CannedReply).order_by(CannedReply.shortcut)))
