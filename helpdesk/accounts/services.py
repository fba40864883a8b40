"""Agents, passwords, API tokens and the audit log."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from helpdesk.accounts.events import AgentAccessChanged
from helpdesk.accounts.models import Agent, ApiToken, AuditEntry, Role, RolePolicy
from helpdesk.actors import Actor
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.events import record

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
MAX_PASSWORD = 200
# Per-account lockout: after LOCK_AFTER failures in a row every further failure locks the account
# for LOCK_BASE_SECONDS * 2^(failures - LOCK_AFTER), at most LOCK_MAX_SECONDS.
LOCK_AFTER = 5
LOCK_BASE_SECONDS = 30
LOCK_MAX_SECONDS = 3600
TOKEN_SCOPES = ("full", "read")
MAX_TOKEN_DAYS = 3650


@cache
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(line.strip().lower() for line in path.read_text().splitlines()
                     if line.strip() and not line.startswith("#"))


def check_new_password(password: str | None, email: str = "") -> str:
    """`password` if it may be set as a new password, else Invalid with the reason."""
    password = password or ""
    if len(password) < MIN_PASSWORD:
        raise Invalid("password", f"at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise Invalid("password", f"at most {MAX_PASSWORD} characters")
    lowered = password.lower()
    local = email.split("@")[0].lower()
    if lowered in common_passwords() or len(set(lowered)) < 3 or (len(local) >= 4 and local in lowered):
        raise Invalid("password", "too easy to guess: it is a common password or contains your email; "
                                  "a few unrelated words make a good one")
    return password


def end_sessions(session: Session, agent: Agent, reason: str) -> None:
    """Every login session (cookies, remember cookies, sockets) of the agent ends now."""
    agent.session_version += 1
    record(session, AgentAccessChanged(agent.id, reason))


def logout(session: Session, agent: Agent) -> None:
    """Logout ends the session server-side, so that a copied or saved cookie stops working too."""
    end_sessions(session, agent, "logout")


def _revoke_tokens(agent: Agent) -> None:
    now = utcnow()
    for token in agent.tokens:
        if token.revoked_at is None:
            token.revoked_at = now


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
                 role: Role | str = Role.agent, password_policy: bool = True) -> Agent:
    """`password_policy=False` is for the demo's seed only (its well-known password `demo`)."""
    require(actor, Role.admin)
    email = normalise_email(email)
    if password_policy:
        check_new_password(password, email)
    elif not password:
        raise Invalid("password", "a password is needed")
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
            # Pages check the role on every request; live sockets were opened under the old one.
            record(session, AgentAccessChanged(agent.id, "role"))
    if password:
        check_new_password(password, agent.email)
    if active is not None and active != agent.active:
        if not active and agent.id == actor.id:
            raise Invalid("active", "you cannot disable yourself")
        changes["active"] = [agent.active, active]
        agent.active = active
        if not active:
            end_sessions(session, agent, "disabled")
            _revoke_tokens(agent)
    if password:
        agent.password_hash = generate_password_hash(password)
        agent.failed_logins, agent.locked_until = 0, None  # an admin's reset also lifts a lockout
        end_sessions(session, agent, "password")
        _revoke_tokens(agent)
        changes["password"] = "changed"
    session.flush()
    if changes:
        audit(session, actor, "agent.update", "agent", agent.public_id, changes=changes)
    return agent


def update_own_profile(session: Session, agent: Agent, *, name: str, password: str | None = None,
                       locale: str | type[Ellipsis] | None = ...) -> Agent:
    """An agent changes their own name, password (the caller checked the current password) or
    console language (None or "": follow the browser)."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise Invalid("name", "1 to 120 characters")
    if locale is not ...:
        from helpdesk.i18n import LOCALES

        if locale and locale not in LOCALES:
            raise Invalid("locale", f"one of {', '.join(LOCALES)}, or empty for the browser's language")
        agent.locale = locale or None
    agent.name = name
    if password:
        check_new_password(password, agent.email)
        agent.password_hash = generate_password_hash(password)
        end_sessions(session, agent, "password")  # other devices are logged out
        _revoke_tokens(agent)  # a password change is when a leaked token must die too
        audit(session, Actor("agent", agent.id, agent.name, agent.role), "agent.password", "agent", agent.public_id)
    session.flush()
    return agent


def authenticate(session: Session, email: str, password: str, *, count_failure: bool = True) -> Agent | None:
    """The agent for these credentials, or None: the caller must not say which part was wrong,
    nor whether the account exists or is locked. A locked account is refused without looking
    at the password (the caller commits, so that failures are counted)."""
    agent = session.scalar(select(Agent).filter_by(email=(email or "").strip().lower()))
    # A password check is ~70 ms of CPU: not while the transaction holds SQLite's write lock
    # (every other writer, an agent's chat message too, would wait for it). The agent stays loaded.
    session.commit()
    if agent is None:
        check_password_hash(_DUMMY_HASH, password or "")  # same work as a real check
        return None
    now = utcnow()
    if agent.locked_until is not None and agent.locked_until > now:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(agent.password_hash, password or "") or not agent.active:
        if count_failure:
            login_failed(agent, now)
        return None
    agent.failed_logins, agent.locked_until = 0, None
    agent.last_seen_at = now
    return agent


def login_failed(agent: Agent, now: datetime | None = None) -> None:
    """Count a wrong password or second-factor code; lock with a growing wait past LOCK_AFTER."""
    agent.failed_logins = (agent.failed_logins or 0) + 1
    over = agent.failed_logins - LOCK_AFTER
    if over >= 0:
        wait = min(LOCK_MAX_SECONDS, LOCK_BASE_SECONDS * 2 ** min(over, 16))
        agent.locked_until = (now or utcnow()) + timedelta(seconds=wait)


def unlock(session: Session, actor: Actor, agent: Agent) -> None:
    """An admin lifts a lockout (the agent called: it was them, not an attacker)."""
    require(actor, Role.admin)
    agent.failed_logins, agent.locked_until = 0, None
    session.flush()
    audit(session, actor, "agent.unlock", "agent", agent.public_id)


def is_locked(agent: Agent) -> bool:
    return agent.locked_until is not None and agent.locked_until > utcnow()


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


def create_api_token(session: Session, actor: Actor, agent: Agent, name: str = "", *,
                     expires_days: int | str | None = None, scope: str = "full") -> str:
    """Return the new token; only its hash is stored, so this is the one time it is seen."""
    return issue_api_token(session, actor, agent, name, expires_days=expires_days, scope=scope)[0]


def issue_api_token(session: Session, actor: Actor, agent: Agent, name: str = "", *,
                    expires_days: int | str | None = None, scope: str = "full") -> tuple[str, ApiToken]:
    if actor.id != agent.id:
        require(actor, Role.admin)
    if scope not in TOKEN_SCOPES:
        raise Invalid("scope", "full or read")
    expires_at = None
    if expires_days not in (None, ""):
        try:
            days = int(expires_days)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise Invalid("expires_days", "a whole number of days") from None
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise Invalid("expires_days", f"1 to {MAX_TOKEN_DAYS} days")
        expires_at = utcnow() + timedelta(days=days)
    token = "hd_" + secrets.token_urlsafe(32)
    row = ApiToken(agent=agent, name=(name or "").strip()[:120], prefix=token[:10],
                   token_hash=_hash_token(token), expires_at=expires_at, scope=scope)
    session.add(row)
    session.flush()
    audit(session, actor, "api_token.create", "agent", agent.public_id, name=row.name, prefix=token[:10],
          scope=scope, expires_at=expires_at.isoformat() if expires_at else None)
    return token, row


def api_token_for(session: Session, token: str) -> ApiToken | None:
    """The live token row behind a bearer token: not revoked, not expired, its agent active."""
    row = session.scalar(select(ApiToken).filter_by(token_hash=_hash_token(token or "")))
    if row is None or row.revoked_at is not None or not row.agent.active:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    return row


TOKEN_USE_GRAIN = timedelta(minutes=1)  # last_used_at is "used within the minute": not a write per call


def token_use_due(row: ApiToken, now: datetime) -> bool:
    return row.last_used_at is None or row.last_used_at <= now - TOKEN_USE_GRAIN


def record_token_use(session: Session, token_id: int, now: datetime) -> None:
    """Stamp a token's last use (at most once a minute, whichever process sees it first)."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id)
                    .where(or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOKEN_USE_GRAIN))
                    .values(last_used_at=now))


def agent_for_api_token(session: Session, token: str) -> Agent | None:
    row = api_token_for(session, token)
    return row.agent if row else None


def list_api_tokens(session: Session, agent: Agent) -> list[ApiToken]:
    """The agent's tokens that still work (revoked ones are history, kept for the audit)."""
    now = utcnow()
    return [t for t in sorted(agent.tokens, key=lambda t: t.id, reverse=True)
            if t.revoked_at is None and (t.expires_at is None or t.expires_at > now)]


def revoke_api_token(session: Session, actor: Actor, token_id: int | str, *, owner: Agent | None = None) -> ApiToken:
    """Revoke at once. With `owner`, only that agent's tokens are found (others are "no such token",
    not "forbidden": ids of other people's tokens are nobody's business)."""
    try:
        row = session.get(ApiToken, int(token_id))
    except (TypeError, ValueError):
        row = None
    if row is None or (owner is not None and row.agent_id != owner.id) or row.revoked_at is not None:
        raise NotFound("no such token")
    if actor.id != row.agent_id:
        require(actor, Role.admin)
    row.revoked_at = utcnow()
    session.flush()
    audit(session, actor, "api_token.revoke", "agent", row.agent.public_id, token_id=row.id, prefix=row.prefix)
    return row


def token_dict(row: ApiToken) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value else None

    return {"id": row.id, "name": row.name, "prefix": row.prefix, "scope": row.scope,
            "created_at": iso(row.created_at), "last_used_at": iso(row.last_used_at),
            "expires_at": iso(row.expires_at)}


def roles_requiring_two_factor(session: Session) -> set[Role]:
    return {p.role for p in session.scalars(select(RolePolicy).filter_by(require_two_factor=True))}


def two_factor_required(session: Session, agent: Agent) -> bool:
    return agent.role in roles_requiring_two_factor(session)


def set_two_factor_roles(session: Session, actor: Actor, roles: set[Role]) -> None:
    require(actor, Role.admin)
    before = roles_requiring_two_factor(session)
    for role in Role:
        policy = session.get(RolePolicy, role) or RolePolicy(role=role)
        policy.require_two_factor = role in roles
        session.add(policy)
    session.flush()
    for agent in session.scalars(select(Agent).where(Agent.role.in_(roles - before), Agent.totp_enabled_at.is_(None))):
        # Their open consoles close; the reconnect is refused until they have set it up.
        record(session, AgentAccessChanged(agent.id, "two_factor_required"))
    if before != roles:
        audit(session, actor, "security.two_factor_roles", "roles", "two_factor",
              before=sorted(r.value for r in before), after=sorted(r.value for r in roles))


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
