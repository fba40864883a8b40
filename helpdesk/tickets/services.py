"""Conversation use cases: the one path for console, widget, REST API, email and CLI."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, inspect, select, update
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from helpdesk import events
from helpdesk.accounts.models import Agent, Role
from helpdesk.accounts.services import audit, normalise_email, require
from helpdesk.actors import Actor
from helpdesk.crm.models import Customer
from helpdesk.db import public_id as new_public_id
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.tickets.events import ConversationCreated, ConversationUpdated, MessagePosted
from helpdesk.tickets.models import (
    AuthorType,
    Channel,
    Conversation,
    Inbox,
    InboxAddress,
    Message,
    Priority,
    Status,
    Tag,
    Team,
)

MAX_BODY = 20_000
MAX_SUBJECT = 255
MAX_TAGS = 20
REF_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I: refs are read aloud and typed
MAX_CLIENT_MSG_ID = 64


# -- inboxes and teams ------------------------------------------------------------------------

def hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_inbox(session: Session, actor: Actor, *, name: str, channel: Channel | str,
                 address: str | None = None, team: Team | None = None) -> tuple[Inbox, str]:
    """Create an inbox; returns it with its site key (chat) or its ingest token (email), the
    latter shown only this once (phone: nothing)."""
    require(actor, Role.admin)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise Invalid("name", "1 to 120 characters")
    try:
        channel = Channel(channel)
    except ValueError:
        raise Invalid("channel", "chat, email or phone") from None
    if session.scalar(select(Inbox).filter_by(name=name)):
        raise Conflict(f"an inbox named {name!r} exists", code="inbox_exists")
    inbox = Inbox(name=name, channel=channel, team=team, settings={})
    if channel is Channel.chat:
        inbox.site_key = secrets.token_urlsafe(12)
        inbox.secret = secrets.token_hex(32)
        shown = inbox.site_key
    elif channel is Channel.phone:
        shown = ""  # calls are logged by agents: nothing outside writes into a phone inbox
    else:
        shown = "ing_" + secrets.token_urlsafe(32)
        inbox.ingest_token_hash = hash_secret(shown)
        if address:
            address = normalise_email(address)
            if session.scalar(select(InboxAddress).filter_by(address=address)):
                raise Conflict(f"{address} already belongs to an inbox", code="address_taken")
            inbox.addresses.append(InboxAddress(address=address))
    session.add(inbox)
    session.flush()
    audit(session, actor, "inbox.create", "inbox", inbox.public_id, name=name, channel=channel.value)
    return inbox, shown


def create_team(session: Session, actor: Actor, *, name: str, members: Iterable[Agent] = ()) -> Team:
    require(actor, Role.admin)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise Invalid("name", "1 to 120 characters")
    if session.scalar(select(Team).filter_by(name=name)):
        raise Conflict(f"a team named {name!r} exists", code="team_exists")
    team = Team(name=name, members=list(members))
    session.add(team)
    session.flush()
    audit(session, actor, "team.create", "team", team.public_id, name=name)
    return team


def update_team(session: Session, actor: Actor, team: Team, *, name: str | None = None,
                members: Iterable[Agent] | None = None) -> Team:
    require(actor, Role.admin)
    changes: dict[str, Any] = {}
    if name is not None:
        name = name.strip()
        if not name or len(name) > 120:
            raise Invalid("name", "1 to 120 characters")
        clash = session.scalar(select(Team).filter_by(name=name))
        if clash is not None and clash is not team:
            raise Conflict(f"a team named {name!r} exists", code="team_exists")
        if name != team.name:
            changes["name"] = [team.name, name]
            team.name = name
    if members is not None:
        members = list(members)
        before = sorted(a.email for a in team.members)
        after = sorted(a.email for a in members)
        if before != after:
            changes["members"] = [before, after]
            team.members = members
    session.flush()
    if changes:
        audit(session, actor, "team.update", "team", team.public_id, changes=changes)
    return team


def rename_inbox(session: Session, actor: Actor, inbox: Inbox, name: str) -> Inbox:
    require(actor, Role.admin)
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > 120:
        raise Invalid("name", "1 to 120 characters")
    clash = session.scalar(select(Inbox).filter_by(name=name))
    if clash is not None and clash is not inbox:
        raise Conflict(f"an inbox named {name!r} exists", code="inbox_exists")
    if name != inbox.name:
        audit(session, actor, "inbox.update", "inbox", inbox.public_id, changes={"name": [inbox.name, name]})
        inbox.name = name
        session.flush()
    return inbox


def inbox_for_site_key(session: Session, site_key: str) -> Inbox | None:
    if not site_key:
        return None
    return session.scalar(select(Inbox).filter_by(site_key=site_key, channel=Channel.chat))


def inbox_for_ingest_token(session: Session, token: str) -> Inbox | None:
    if not token:
        return None
    return session.scalar(select(Inbox).filter_by(ingest_token_hash=hash_secret(token)))


# -- conversations ----------------------------------------------------------------------------

def new_ref(session: Session) -> str:
    for length in (6, 6, 6, 8, 8, 10):
        ref = "".join(secrets.choice(REF_ALPHABET) for _ in range(length))
        if session.scalar(select(Conversation.id).filter_by(ref=ref)) is None:
            return ref
    raise RuntimeError("could not find a free conversation reference")


# What the console's CONVERSATION row reads: loaded with the conversation in one round trip (and
# one for tags), instead of one lazy load each when a message's row is serialised.
ROW_LOADS = (joinedload(Conversation.inbox), joinedload(Conversation.customer),
             joinedload(Conversation.assignee), joinedload(Conversation.team), joinedload(Conversation.tags))


# The message path's statements, built once: composing a select per call (coercing every clause)
# was a measurable share of a chat message's CPU.
_BY_PUBLIC_ID = select(Conversation).where(Conversation.public_id == bindparam("public_id")).options(*ROW_LOADS)
# Almost always empty: asked as a plain row, the ORM message is loaded only for a true repeat.
_SENT_BEFORE = select(Message.__table__.c.id).where(
    Message.__table__.c.conversation_id == bindparam("conversation_id"),
    Message.__table__.c.client_msg_id == bindparam("client_msg_id"))
_LOCK = select(Conversation.id).where(Conversation.id == bindparam("conversation_id")).with_for_update()


# The chat message path's: the row is read by the consoles' tick (chat/relay.py), and a message
# needs none of inbox, customer, agent, team or tags (a relation a rare path touches loads lazily).
_BY_PUBLIC_ID_LEAN = select(Conversation).where(Conversation.public_id == bindparam("public_id"))


def conversation_by_public_id(session: Session, public_id: str, *, lean: bool = False) -> Conversation | None:
    """The conversation with the relations its console row reads (`lean`: the conversation alone)."""
    if lean:
        return session.scalars(_BY_PUBLIC_ID_LEAN, {"public_id": public_id}).one_or_none()
    return session.execute(_BY_PUBLIC_ID, {"public_id": public_id}).unique().scalar_one_or_none()


def get_conversation(session: Session, public_id: str, actor: Actor | None = None, *,
                     lean: bool = False) -> Conversation:
    conversation = conversation_by_public_id(session, public_id, lean=lean)
    if conversation is None or (actor is not None and not can_see(actor, conversation)):
        raise NotFound("no such conversation")
    return conversation


def can_see(actor: Actor, conversation: Conversation) -> bool:
    if actor.type == "customer":
        return conversation.customer_id == actor.id
    return actor.type in ("agent", "system")


def create_conversation(session: Session, actor: Actor, *, inbox: Inbox, customer: Customer,
                        subject: str = "", channel: Channel | str | None = None,
                        body: str | None = None, client_msg_id: str | None = None,
                        priority: Priority | str = Priority.normal, **message_fields: Any) -> Conversation:
    """Open a conversation; with a body, its first message is posted by the actor."""
    if actor.type == "customer" and actor.id != customer.id:
        raise Forbidden("a customer opens conversations only for themselves")
    channel = Channel(channel or inbox.channel)
    conversation = Conversation(
        inbox=inbox, customer=customer, channel=channel, ref=new_ref(session),
        subject=_clean_subject(subject), priority=_priority(priority), status=Status.open,
        team_id=inbox.team_id, last_seq=0, last_activity_at=utcnow(),
    )
    session.add(conversation)
    session.flush()
    events.record(session, ConversationCreated(conversation.id, inbox.id, channel.value))
    if body is not None:
        post_message(session, actor, conversation, body=body, client_msg_id=client_msg_id, **message_fields)
    return conversation


def post_message(session: Session, actor: Actor, conversation: Conversation, *, body: str,
                 client_msg_id: str | None = None, private: bool = False, html: str | None = None,
                 max_len: int = MAX_BODY, email_message_id: str | None = None,
                 meta: dict[str, Any] | None = None, author_name: str | None = None,
                 attachments: Iterable[Any] = ()) -> Message:
    """Append a message; a repeat of client_msg_id returns the stored one."""
    if not can_see(actor, conversation):
        raise NotFound("no such conversation")
    if client_msg_id is not None:
        client_msg_id = str(client_msg_id)
        if not client_msg_id or len(client_msg_id) > MAX_CLIENT_MSG_ID:
            raise Invalid("client_msg_id", f"1 to {MAX_CLIENT_MSG_ID} characters")
        if existing := _sent_before(session, conversation, client_msg_id):
            return existing
    if private and not (actor.is_agent or actor.type == "system"):
        raise Forbidden("only agents write private notes")  # and the system's event lines (rules)
    if not isinstance(body, str):
        raise Invalid("body", "must be text")
    body = body.strip()
    attachments = list(attachments)
    if not body and not attachments:
        raise Invalid("body", "must not be empty", code="empty_body")
    if len(body) > max_len:
        raise Invalid("body", f"longer than {max_len} characters", code="body_too_long")

    if client_msg_id is not None and session.get_bind().dialect.name != "sqlite":
        # Concurrent writers (PostgreSQL): take the conversation's row lock first. Whoever waited
        # here then sees a twin send that committed meanwhile and returns it instead of colliding
        # on uq_messages_conversation_id_client_msg_id. SQLite's writers are serialised already
        # (BEGIN IMMEDIATE), so the first look-up above was authoritative there; and without an
        # id, next_seq's UPDATE alone orders the writers.
        session.execute(_LOCK, {"conversation_id": conversation.id})
        if existing := _sent_before(session, conversation, client_msg_id):
            return existing
    now = utcnow()
    seq = next_seq(session, conversation, now, activity=not private)
    fields: dict[str, Any] = {
        "public_id": new_public_id("msg"), "conversation_id": conversation.id, "seq": seq,
        "client_msg_id": client_msg_id, "author_type": AuthorType(actor.type), "author_id": actor.id,
        "author_name": (author_name or actor.name)[:200], "private": private, "body_text": body,
        "body_html": html, "email_message_id": email_message_id, "delivery": None, "delivery_error": None,
        "meta": meta or {}, "created_at": now}
    if attachments:  # the attachments' rows point at the message: the unit of work orders that
        message = Message(**fields, conversation=conversation, attachments=attachments)
        session.add(message)
    else:
        message = _insert_message(session, conversation, fields)
    changes: dict[str, Any] = {}
    if not private:
        if actor.is_agent and conversation.first_response_at is None:
            conversation.first_response_at = now
        if actor.type == "customer" and conversation.status in (Status.resolved, Status.snoozed,
                                                                  Status.pending):
            changes["status"] = [conversation.status.value, Status.open.value]
            conversation.status = Status.open
            conversation.resolved_at = None
            conversation.snoozed_until = None
    session.flush()
    events.record(session, MessagePosted(message.id, conversation.id, actor.type, private,
                                         conversation.channel.value))
    if changes:
        events.record(session, ConversationUpdated(conversation.id, changes))
    return message


_INSERT_MESSAGE = insert(Message.__table__)


def _insert_message(session: Session, conversation: Conversation, fields: dict[str, Any]) -> Message:
    """Write the message with one Core INSERT and hand the session an object that is already
    persistent: the in-transaction listeners (relay, alerts, SLA, rules, webhooks) find it in the
    identity map, and the unit of work has nothing of it to flush. The ORM's flush of a new
    Message (its bookkeeping, not the statement) was a large share of a chat message's CPU."""
    result = session.execute(_INSERT_MESSAGE, fields)
    message = Message(id=result.inserted_primary_key[0], **fields)
    make_transient_to_detached(message)  # every attribute set above counts as loaded from the row
    session.add(message)
    # Relations as loaded, without events: no backref append into conversation.messages.
    set_committed_value(message, "conversation", conversation)
    set_committed_value(message, "attachments", [])
    set_committed_value(message, "call", None)
    if "messages" not in inspect(conversation).unloaded:  # what a backref append would have done
        set_committed_value(conversation, "messages", [*conversation.messages, message])
    return message


def _sent_before(session: Session, conversation: Conversation, client_msg_id: str) -> Message | None:
    if session.new:  # a message this session added and has not written yet counts too
        session.flush()
    found = session.connection().execute(_SENT_BEFORE, {"conversation_id": conversation.id,
                                                        "client_msg_id": client_msg_id}).scalar()
    return session.get(Message, found) if found is not None else None


def next_seq(session: Session, conversation: Conversation, now: datetime, *, activity: bool = True) -> int:
    """Allocate the conversation's next message seq in the database, atomically; the same
    statement stamps updated_at (and last_activity_at for public messages): one UPDATE per message.

    `conversation.last_seq += 1` in Python lets two transactions read the same value and collide
    on uq_messages_conversation_id_seq; one UPDATE ... RETURNING cannot (SQLite >= 3.35, PostgreSQL).
    """
    seq = session.execute(_NEXT_SEQ_ACTIVE if activity else _NEXT_SEQ,
                          {"conversation_id": conversation.id, "at": now, "activity_at": now}
                          ).scalar_one()
    # What the row holds now, so the object has nothing of this left to flush.
    set_committed_value(conversation, "last_seq", seq)
    set_committed_value(conversation, "updated_at", now)
    if activity:
        set_committed_value(conversation, "last_activity_at", now)
    return seq


def _next_seq_statement(*, activity: bool) -> Any:
    # On the table, not the mapped class: an ORM-enabled UPDATE runs the bulk-update machinery
    # (8 % of a chat message's CPU under load) for a statement whose result we apply ourselves.
    table = Conversation.__table__
    values: dict[str, Any] = {"last_seq": table.c.last_seq + 1, "updated_at": bindparam("at")}
    if activity:
        values["last_activity_at"] = bindparam("activity_at")
    return update(table).where(table.c.id == bindparam("conversation_id")).values(**values) \
        .returning(table.c.last_seq)


_NEXT_SEQ = _next_seq_statement(activity=False)
_NEXT_SEQ_ACTIVE = _next_seq_statement(activity=True)


def add_note(session: Session, actor: Actor, conversation: Conversation, *, body: str,
             client_msg_id: str | None = None) -> Message:
    return post_message(session, actor, conversation, body=body, client_msg_id=client_msg_id, private=True)


def assign(session: Session, actor: Actor, conversation: Conversation, agent: Agent | None,
           team: Team | type[Ellipsis] | None = ...) -> Conversation:
    """Give the conversation to an agent (None: back to the queue); optionally to a team."""
    if not actor.is_agent and actor.type != "system":
        raise Forbidden("only agents assign conversations")
    if agent is not None and not agent.active:
        raise Invalid("assignee", "that agent is disabled")
    changes: dict[str, Any] = {}
    if conversation.assignee_id != (agent.id if agent else None):
        old = conversation.assignee.name if conversation.assignee else None
        changes["assignee"] = [old, agent.name if agent else None]
        conversation.assignee = agent
    if team is not ... and conversation.team_id != (team.id if team else None):
        changes["team"] = [conversation.team.name if conversation.team else None, team.name if team else None]
        conversation.team = team
    return _updated(session, actor, conversation, changes)


def set_status(session: Session, actor: Actor, conversation: Conversation, status: Status | str,
               snoozed_until: datetime | None = None) -> Conversation:
    if not actor.is_agent and actor.type != "system":
        raise Forbidden("only agents change the status")
    try:
        status = Status(status)
    except ValueError:
        raise Invalid("status", "one of open, pending, snoozed, resolved") from None
    changes: dict[str, Any] = {}
    if status is Status.snoozed:
        if snoozed_until is None or snoozed_until <= utcnow():
            raise Invalid("snoozed_until", "a time in the future is needed to snooze")
        conversation.snoozed_until = snoozed_until
    else:
        conversation.snoozed_until = None
    if status != conversation.status:
        changes["status"] = [conversation.status.value, status.value]
        conversation.status = status
        conversation.resolved_at = utcnow() if status is Status.resolved else None
    return _updated(session, actor, conversation, changes)


def set_priority(session: Session, actor: Actor, conversation: Conversation,
                 priority: Priority | str) -> Conversation:
    if not actor.is_agent and actor.type != "system":
        raise Forbidden("only agents change the priority")
    priority = _priority(priority)
    changes = {}
    if priority != conversation.priority:
        changes["priority"] = [conversation.priority.value, priority.value]
        conversation.priority = priority
    return _updated(session, actor, conversation, changes)


def set_tags(session: Session, actor: Actor, conversation: Conversation, names: Iterable[str]) -> Conversation:
    if not actor.is_agent and actor.type != "system":
        raise Forbidden("only agents change tags")
    if isinstance(names, str):
        raise Invalid("tags", "a list of tag names")
    cleaned: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise Invalid("tags", "a list of tag names")
        name = name.strip().lower()
        if not name:
            continue
        if len(name) > 64:
            raise Invalid("tags", "a tag is at most 64 characters")
        if name not in cleaned:
            cleaned.append(name)
    if len(cleaned) > MAX_TAGS:
        raise Invalid("tags", f"at most {MAX_TAGS} tags")
    old = sorted(t.name for t in conversation.tags)
    if sorted(cleaned) == old:
        return conversation
    tags = []
    for name in cleaned:
        tag = session.scalar(select(Tag).filter_by(name=name))
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
        tags.append(tag)
    conversation.tags = tags
    return _updated(session, actor, conversation, {"tags": [old, sorted(cleaned)]})


def _updated(session: Session, actor: Actor, conversation: Conversation, changes: dict[str, Any]) -> Conversation:
    session.flush()
    if changes:
        audit(session, actor, "conversation.update", "conversation", conversation.public_id, changes=changes)
        events.record(session, ConversationUpdated(conversation.id, changes))
    return conversation


def _clean_subject(subject: str) -> str:
    # A subject flows into outbound mail headers: no line breaks, ever.
    return " ".join((subject or "").split())[:MAX_SUBJECT]


def _priority(priority: Priority | str) -> Priority:
    try:
        return Priority(priority)
    except ValueError:
        raise Invalid("priority", "one of low, normal, high, urgent") from None
