"""Set-password links: how an invited agent chooses their first password, and how an admin helps
one who forgot theirs. No table: the link is signed with the app's secret and carries a
fingerprint of the agent's current password hash, so it works once (setting a password changes
the hash) and stops working when the password changes any other way. Links expire after
LINK_DAYS days."""

from __future__ import annotations

import hashlib
import secrets

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from helpdesk.accounts.models import Agent, Role
from helpdesk.accounts.services import (
    _revoke_tokens,
    audit,
    check_new_password,
    create_agent,
    end_sessions,
    require,
)
from helpdesk.actors import Actor, agent_actor
from helpdesk.errors import Invalid

LINK_DAYS = 3
SALT = "helpdesk.set-password"


def _fingerprint(agent: Agent) -> str:
    return hashlib.sha256(agent.password_hash.encode()).hexdigest()[:20]


def link_token(secret_key: str, agent: Agent) -> str:
    return URLSafeTimedSerializer(secret_key, salt=SALT).dumps({"a": agent.public_id, "p": _fingerprint(agent)})


def agent_for(session: Session, secret_key: str, token: str) -> Agent:
    """The agent of a valid link; Invalid (one message for every reason) otherwise."""
    dead = Invalid("link", "this link has expired or was already used; ask an admin for a new one",
                   code="link_invalid")
    try:
        data = URLSafeTimedSerializer(secret_key, salt=SALT).loads(token, max_age=LINK_DAYS * 86400)
    except (SignatureExpired, BadSignature):
        raise dead from None
    agent = session.scalar(select(Agent).filter_by(public_id=str(data.get("a", ""))))
    if agent is None or not agent.active or data.get("p") != _fingerprint(agent):
        raise dead
    return agent


def invite(session: Session, actor: Actor, *, email: str, name: str, role: str) -> Agent:
    """A new agent with no usable password yet: they pick one through the link."""
    require(actor, Role.admin)
    agent = create_agent(session, actor, email=email, password=secrets.token_urlsafe(32), name=name, role=role)
    audit(session, actor, "agent.invite", "agent", agent.public_id, email=agent.email)
    return agent


def reset_link_made(session: Session, actor: Actor, agent: Agent) -> None:
    require(actor, Role.admin)
    audit(session, actor, "agent.reset_link", "agent", agent.public_id)


def set_password(session: Session, agent: Agent, password: str) -> None:
    check_new_password(password, agent.email)
    agent.password_hash = generate_password_hash(password)
    agent.failed_logins, agent.locked_until = 0, None
    end_sessions(session, agent, "password")
    _revoke_tokens(agent)
    audit(session, agent_actor(agent), "agent.password_set", "agent", agent.public_id)
    session.flush()
