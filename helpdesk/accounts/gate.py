"""Who may use the console right now: logged in, and with two-factor login set up where the
agent's role requires it (until then only the set-up page and logout are open)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from helpdesk.accounts import services
from helpdesk.errors import DomainError, Forbidden, Unauthorized


def needs_two_factor_setup(session: Session, user: Any) -> bool:
    return bool(user.is_authenticated and not user.two_factor and services.two_factor_required(session, user))


def console_refusal(session: Session, user: Any) -> DomainError | None:
    """Why a /console socket must be refused, or None. Half-logged-in agents (password given,
    second factor not yet) are not logged in at all, so they are refused here too."""
    if not user.is_authenticated:
        return Unauthorized("log in to the console first", code="not_logged_in")
    if needs_two_factor_setup(session, user):
        return Forbidden("set up two-factor login first", code="two_factor_setup_required")
    return None
