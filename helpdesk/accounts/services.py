"""Agents, passwords, API tokens and the audit log."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from helpdesk.accounts.models import Agent, ApiToken, AuditEntry, Role
from helpdesk.actors import Actor
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 4


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise Invalid("email", "not a valid email address")
    return email


def audit(session: Session, actor: Actor, action: str, target_type: str, target_id: str,
          **data: Any) -> None:
    session.add(AuditEntry(actor_type=actor.type, actor_id=actor.id, actor_name=actor.name,
                           action=action, target_type=target_type, target_id=str(target_id), data=data))


def require(actor: Actor, role: Role) -> None:
    if not actor.can(role):
        raise Forbidden(f"this needs the {role.value} role")


def create_agent(session: Session, actor: Actor, *, email: str, password: str, name: str = "",
                 role: Role | str = Role.agent) -> Agent:
    require(actor, Role.admin)
    email = normalise_email(email)
    if len(password or "") < MIN_PASSWORD:
        raise Invalid("password", f"at least {MIN_PASSWORD} characters")
    try:
        role = Role(role)
    except ValueError:
        raise Invalid("role", "one of agent, manager, admin") from None
    if session.scalar(select(Agent).filter_by(email=email)):
        raise Conflict(f"an agent with email {email} exists", code="agent_exists")
    agent = Agent(email=email, name=(name or email.split("@")[0]).strip()[:120],
                  password_hash=generate_password_hash(password), role=role)
    session.add(agent)
    session.flush()
    audit(session, actor, "agent.create", "agent", agent.public_id, email=email, role=role.value)
    return agent


def update_agent(session: Session, actor: Actor, agent: Agent, *, name: str | None = None,
                 role: Role | str | None = None, active: bool | None = None,
                 password: str | None = None) -> Agent:
    require(actor, Role.admin)
    changes: dict[str, Any] = {}
    if name is not None and name.strip() and name.strip() != agent.name:
        changes["name"] = [agent.name, name.strip()]
        agent.name = name.strip()[:120]
    if role is not None:
        try:
            role = Role(role)
        except ValueError:
            raise Invalid("role", "one of agent, manager, admin") from None
        if role != agent.role:
            changes["role"] = [agent.role.value, role.value]
            agent.role = role
    if active is not None and active != agent.active:
        if not active and agent.id == actor.id:
            raise Invalid("active", "you cannot disable yourself")
        changes["active"] = [agent.active, active]
        agent.active = active
        agent.session_version += 1  # ends every login session of the agent
    if password:
        if len(password) < MIN_PASSWORD:
            raise Invalid("password", f"at least {MIN_PASSWORD} characters")
        agent.password_hash = generate_password_hash(password)
        agent.session_version += 1
        changes["password"] = "changed"
    session.flush()
    if changes:
        audit(session, actor, "agent.update", "agent", agent.public_id, changes=changes)
    return agent


def update_own_profile(session: Session, agent: Agent, *, name: str, password: str | None = None) -> Agent:
    """An agent changes their own name or password (the caller checked the current password)."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise Invalid("name", "1 to 120 characters")
    agent.name = name
    if password:
        if len(password) < MIN_PASSWORD:
            raise Invalid("password", f"at least {MIN_PASSWORD} characters")
        agent.password_hash = generate_password_hash(password)
        agent.session_version += 1  # other devices are logged out
        audit(session, Actor("agent", agent.id, agent.name, agent.role), "agent.password", "agent", agent.public_id)
    session.flush()
    return agent


def authenticate(session: Session, email: str, password: str) -> Agent | None:
    """The agent for these credentials, or None: the caller must not say which part was wrong."""
    agent = session.scalar(select(Agent).filter_by(email=(email or "").strip().lower()))
    if agent is None:
        check_password_hash(_DUMMY_HASH, password or "")  # same work as a real check
        return None
    if not check_password_hash(agent.password_hash, password or "") or not agent.active:
        return None
    agent.last_seen_at = utcnow()
    return agent


_DUMMY_HASH = generate_password_hash("not a password")


def load_session_agent(session: Session, session_id: str) -> Agent | None:
    """The agent behind a login session id, or None once disabled or logged out everywhere."""
    public_id, _, version = (session_id or "").partition(":")
    agent = session.scalar(select(Agent).filter_by(public_id=public_id))
    if agent is None or not agent.active or str(agent.session_version) != version:
        return None
    return agent


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, actor: Actor, agent: Agent, name: str = "") -> str:
    """Return the new token; only its hash is stored, so this is the one time it is seen."""
    if actor.id != agent.id:
        require(actor, Role.admin)
    token = "hd_" + secrets.token_urlsafe(32)
    session.add(ApiToken(agent=agent, name=name[:120], prefix=token[:10], token_hash=_hash_token(token)))
    session.flush()
    audit(session, actor, "api_token.create", "agent", agent.public_id, name=name, prefix=token[:10])
    return token


def agent_for_api_token(session: Session, token: str) -> Agent | None:
    row = session.scalar(select(ApiToken).filter_by(token_hash=_hash_token(token or "")))
    if row is None or row.revoked_at is not None or not row.agent.active:
        return None
    row.last_used_at = utcnow()
    return row.agent


def get_agent(session: Session, public_id: str) -> Agent:
    agent = session.scalar(select(Agent).filter_by(public_id=public_id))
    if agent is None:
        raise NotFound("no such agent")
    return agent


def agent_by_email(session: Session, email: str) -> Agent:
    agent = session.scalar(select(Agent).filter_by(email=(email or "").strip().lower()))
    if agent is None:
        raise NotFound(f"no agent with email {email}")
    return agent
