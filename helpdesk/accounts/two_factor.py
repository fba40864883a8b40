"""Two-factor login: TOTP (RFC 6238, any authenticator app) and single-use recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import time

import pyotp
import segno
from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent
from helpdesk.accounts.services import audit, login_failed
from helpdesk.actors import Actor, agent_actor
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, Invalid

ISSUER = "Helpdesk"
RECOVERY_CODES = 10
STEP = 30  # seconds per TOTP code


def _hash_code(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def start_setup(session: Session, agent: Agent) -> str:
    """A fresh secret, kept on the agent but not in force until `confirm` sees a code from it."""
    if agent.two_factor:
        raise Conflict("two-factor login is already on; turn it off first", code="two_factor_on")
    agent.totp_secret = pyotp.random_base32()
    session.flush()
    return agent.totp_secret


def provisioning_uri(agent: Agent, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(agent.totp_secret or "").provisioning_uri(name=agent.email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The set-up link as an SVG QR code, drawn here (no third-party QR service sees the secret).
    Only paths: safe to inline in the page."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False,
                                    title="Two-factor set-up QR code")
    return out.getvalue().decode()


def _matching_step(secret: str, code: str, last_step: int) -> int | None:
    """The time step `code` belongs to (this one or a neighbour, for clock drift), if not used yet."""
    code = _normalise(code)
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // STEP
    for step in (now_step, now_step - 1, now_step + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def confirm(session: Session, agent: Agent, code: str) -> list[str]:
    """Turn two-factor login on with a first code; returns the recovery codes (shown once)."""
    if agent.two_factor:
        raise Conflict("two-factor login is already on", code="two_factor_on")
    if not agent.totp_secret:
        raise Invalid("code", "start the set-up first")
    step = _matching_step(agent.totp_secret, code, agent.totp_last_step or 0)
    if step is None:
        raise Invalid("code", "that code is not right; check the time on your phone and try the next one")
    agent.totp_last_step = step
    agent.totp_enabled_at = utcnow()
    codes = _new_recovery_codes(agent)
    session.flush()
    audit(session, agent_actor(agent), "agent.two_factor_on", "agent", agent.public_id)
    return codes


def _new_recovery_codes(agent: Agent) -> list[str]:
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    agent.recovery_codes = [_hash_code(c) for c in codes]
    return codes


def regenerate_recovery_codes(session: Session, agent: Agent, code: str) -> list[str]:
    if not agent.two_factor or not verify(session, agent, code, recovery=False):
        raise Invalid("code", "enter a current code from your authenticator app")
    codes = _new_recovery_codes(agent)
    session.flush()
    audit(session, agent_actor(agent), "agent.recovery_codes", "agent", agent.public_id)
    return codes


def verify(session: Session, agent: Agent, code: str, *, recovery: bool = True) -> bool:
    """Check a second-factor code: a TOTP code (each works once) or a recovery code (used up).
    A wrong code counts as a failed login (the lockout covers the second step too)."""
    if not agent.two_factor or not agent.totp_secret:
        return False
    step = _matching_step(agent.totp_secret, code, agent.totp_last_step or 0)
    if step is not None:
        agent.totp_last_step = step
        return True
    if recovery and _normalise(code):
        hashed = _hash_code(code)
        stored = list(agent.recovery_codes or [])
        for candidate in stored:
            if hmac.compare_digest(candidate, hashed):
                stored.remove(candidate)
                agent.recovery_codes = stored  # a new list: JSON columns see reassignment only
                audit(session, agent_actor(agent), "agent.recovery_code_used", "agent", agent.public_id,
                      left=len(stored))
                return True
    login_failed(agent)
    return False


def disable(session: Session, actor: Actor, agent: Agent) -> None:
    """Turn two-factor login off (the caller checked the password and a code, or is an admin)."""
    agent.totp_secret = None
    agent.totp_enabled_at = None
    agent.recovery_codes = []
    session.flush()
    audit(session, actor, "agent.two_factor_off", "agent", agent.public_id)
