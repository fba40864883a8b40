"""Login (with the second step), logout, the profile's two-factor and API token pages, and the
admin pages for agents; plus the request hooks of the accounts room (two-factor set-up gate,
security headers)."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from helpdesk.accounts import gate, invites, services, two_factor
from helpdesk.accounts.models import Agent, Role
from helpdesk.actors import agent_actor
from helpdesk.errors import DomainError, Invalid
from helpdesk.extensions import limiter, login_manager
from helpdesk.i18n.web import label_of
from helpdesk.web import (
    commit,
    csp_nonce,
    current_actor,
    db_session,
    local_url,
    require_role,
    security_headers,
)

bp = Blueprint("accounts", __name__)

LOGIN_FAILED = lazy_gettext("Wrong email or password, or the account is disabled or locked for a while after "
                            "many attempts.")
PENDING = "helpdesk.two_factor_pending"
PENDING_SECONDS = 300
# Open to an agent whose role requires two-factor login before it is set up.
SETUP_ENDPOINTS = {"accounts.two_factor_page", "accounts.two_factor_start", "accounts.two_factor_confirm",
                   "accounts.logout", "accounts.login", "accounts.login_post", "accounts.login_code",
                   "accounts.login_code_post", "static"}
# Pages and hooks for shoppers, shops and API clients: the agent's login cookie means nothing there.
UNGATED = ("api.", "widget.loader", "widget.frame", "widget.upload", "widget.download", "orders_widget.",
           "csat.", "email_inbound.", "orders_webhooks.", "crm_webhooks.", "demo.")


@login_manager.user_loader
def _load_agent(session_id: str) -> Agent | None:
    return services.load_session_agent(db_session(), session_id)


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"csp_nonce": csp_nonce}


@bp.before_app_request
def _two_factor_setup_gate() -> Any:
    """Agents of a role that requires two-factor login set it up before anything else."""
    endpoint = request.endpoint or ""
    if endpoint in SETUP_ENDPOINTS or endpoint.startswith(UNGATED) or not current_user.is_authenticated:
        return None
    if gate.needs_two_factor_setup(db_session(), current_user):
        flash(_("Your role requires two-factor login: set it up to go on."), "error")
        return redirect(url_for("accounts.two_factor_page"))
    return None


bp.after_app_request(security_headers)


@bp.get("/login")
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("console.queue"))
    return render_template("login.html", next=request.args.get("next", ""))


@bp.post("/login")
@limiter.limit("10/minute")
def login_post() -> Any:
    email = request.form.get("email", "")
    db = db_session()
    agent = services.authenticate(db, email, request.form.get("password", ""))
    commit()  # failures count towards the account's lockout
    if agent is None:
        return render_template("login.html", error=LOGIN_FAILED, email=email, next=request.form.get("next", "")), 401
    target = local_url(request.form.get("next"), url_for("console.queue"))
    remember = bool(request.form.get("remember"))
    if agent.two_factor:
        # Half logged in: nothing but the code form is open (flask-login knows no user yet).
        session[PENDING] = {"agent": agent.get_id(), "remember": remember, "next": target, "at": int(time.time())}
        return redirect(url_for("accounts.login_code"))
    login_user(agent, remember=remember)
    return redirect(target)


def _pending_agent() -> tuple[Agent | None, dict[str, Any]]:
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None, {}
    return services.load_session_agent(db_session(), str(pending.get("agent", ""))), pending


@bp.get("/login/code")
def login_code() -> Any:
    agent, _ = _pending_agent()
    if agent is None:
        return redirect(url_for("accounts.login"))
    return render_template("login_code.html")


@bp.post("/login/code")
@limiter.limit("10/minute")
def login_code_post() -> Any:
    agent, pending = _pending_agent()
    if agent is None:
        flash(_("Log in again: the code step expired."), "error")
        return redirect(url_for("accounts.login"))
    db = db_session()
    ok = not services.is_locked(agent) and two_factor.verify(db, agent, request.form.get("code", ""))
    commit()  # a used code (or recovery code) and failures are kept
    if not ok:
        if services.is_locked(agent):
            session.pop(PENDING, None)
            return render_template("login.html", error=LOGIN_FAILED), 401
        return render_template("login_code.html", error="That code is not right."), 401
    session.pop(PENDING, None)
    agent.failed_logins, agent.locked_until = 0, None
    commit()
    login_user(agent, remember=bool(pending.get("remember")))
    return redirect(local_url(pending.get("next"), url_for("console.queue")))


@bp.post("/logout")
def logout() -> Any:
    if current_user.is_authenticated:
        # Server-side: the session version moves on, so this cookie, a saved copy of it and the
        # remember cookie all stop working, and the agent's live sockets close.
        services.logout(db_session(), current_user._get_current_object())
        commit()
    logout_user()
    session.pop(PENDING, None)
    return redirect(url_for("accounts.login"))


@bp.get("/admin/agents")
@login_required
@require_role(Role.admin)
def agents() -> Any:
    db = db_session()
    rows = db.scalars(select(Agent).order_by(Agent.active.desc(), Agent.name)).all()
    return render_template("admin/agents.html", agents=rows, all_roles=list(Role),
                           shown=session.pop("shown_secret", None),
                           two_factor_roles=services.roles_requiring_two_factor(db),
                           locked={a.id for a in rows if services.is_locked(a)})


@bp.post("/admin/agents")
@login_required
@require_role(Role.admin)
def agents_create() -> Any:
    form = request.form
    try:
        agent = services.create_agent(db_session(), current_actor(), email=form.get("email", ""),
                                      password=form.get("password", ""), name=form.get("name", ""),
                                      role=form.get("role", "agent"))
        commit()
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accounts.agents")), 303
    flash(_("Agent %(email)s created.", email=agent.email), "success")
    return redirect(url_for("accounts.agents")), 303


def _show_link(agent: Agent, what: str) -> None:
    link = current_app.config["BASE_URL"].rstrip("/") + url_for(
        "accounts.set_password", token=invites.link_token(current_app.secret_key, agent))
    session["shown_secret"] = {
        "label": _("%(what)s for %(name)s (%(email)s)", what=what, name=agent.name, email=agent.email), "value": link,
        "note": _("Send it to them yourself (chat, email). It works once, for %(days)s days.", days=invites.LINK_DAYS)}


@bp.post("/admin/agents/invite")
@login_required
@require_role(Role.admin)
def agents_invite() -> Any:
    form = request.form
    try:
        agent = invites.invite(db_session(), current_actor(), email=form.get("email", ""),
                               name=form.get("name", ""), role=form.get("role", "agent"))
        commit()
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accounts.agents")), 303
    _show_link(agent, _("Invitation link"))
    flash(_("Agent %(email)s invited: they choose their password with the link below.", email=agent.email), "success")
    return redirect(url_for("accounts.agents")), 303


@bp.post("/admin/agents/<public_id>/reset-link")
@login_required
@require_role(Role.admin)
def agents_reset_link(public_id: str) -> Any:
    agent = services.get_agent(db_session(), public_id)
    if not agent.active:
        flash(_("%(email)s is disabled: enable the account first.", email=agent.email), "error")
        return redirect(url_for("accounts.agents")), 303
    invites.reset_link_made(db_session(), current_actor(), agent)
    commit()
    _show_link(agent, _("Password reset link"))
    return redirect(url_for("accounts.agents")), 303


@bp.get("/set-password/<token>")
def set_password(token: str) -> Any:
    try:
        agent = invites.agent_for(db_session(), current_app.secret_key, token)
    except DomainError as exc:
        return render_template("set_password.html", error=exc.message, agent=None), 410
    return render_template("set_password.html", agent=agent, error=None)


@bp.post("/set-password/<token>")
@limiter.limit("10 per minute")
def set_password_post(token: str) -> Any:
    db = db_session()
    try:
        agent = invites.agent_for(db, current_app.secret_key, token)
    except DomainError as exc:
        return render_template("set_password.html", error=exc.message, agent=None), 410
    password = request.form.get("password", "")
    try:
        if password != request.form.get("confirm", ""):
            raise Invalid("confirm", "the two passwords differ")
        invites.set_password(db, agent, password)
        commit()
    except DomainError as exc:
        db.rollback()
        return render_template("set_password.html", agent=agent, error=exc.message), 422
    return render_template("set_password.html", agent=agent, error=None, done=True)


@bp.post("/admin/agents/<public_id>")
@login_required
@require_role(Role.admin)
def agents_update(public_id: str) -> Any:
    db = db_session()
    agent = services.get_agent(db, public_id)
    form = request.form
    active = {"1": True, "0": False}.get(form.get("active", ""))
    try:
        services.update_agent(db, current_actor(), agent, name=form.get("name"),
                              role=form.get("role") or None, active=active,
                              password=form.get("password") or None)
        if form.get("unlock") == "1":
            services.unlock(db, current_actor(), agent)
        if form.get("two_factor") == "off" and agent.two_factor:
            two_factor.disable(db, current_actor(), agent)  # a lost phone: the admin resets it
        commit()
        flash(_("Agent %(email)s updated.", email=agent.email), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("accounts.agents")), 303


@bp.post("/admin/security")
@login_required
@require_role(Role.admin)
def security_save() -> Any:
    roles = {Role(r) for r in request.form.getlist("two_factor_roles") if r in Role.__members__}
    services.set_two_factor_roles(db_session(), current_actor(), roles)
    commit()
    flash(_("Security settings saved."), "success")
    return redirect(url_for("accounts.agents")), 303


@bp.get("/settings/profile")
@login_required
def profile() -> Any:
    from helpdesk.i18n import DEFAULT_LOCALE, LOCALES

    return render_template("profile.html",
                           browser_locale=request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE)


@bp.post("/settings/profile")
@login_required
def profile_save() -> Any:
    db = db_session()
    agent = current_user._get_current_object()
    form = request.form
    new_password = form.get("new_password", "")
    try:
        if new_password:
            if not _password_ok(agent, form.get("current_password", "")):
                raise Invalid("current_password", "that is not your current password")
            if new_password != form.get("confirm_password", ""):
                raise Invalid("confirm_password", "the two new passwords differ")
        services.update_own_profile(db, agent, name=form.get("name", ""), password=new_password or None,
                                    locale=form.get("locale", ...))
        commit()
    except DomainError as exc:
        commit()  # a wrong current password counts towards the lockout
        flash(exc.message, "error")
        return redirect(url_for("accounts.profile")), 303
    if new_password:
        login_user(agent)  # the password change ended every session; keep this one
    flash(_("Profile saved."), "success")
    return redirect(url_for("accounts.profile")), 303


def _password_ok(agent: Agent, password: str) -> bool:
    return services.authenticate(db_session(), agent.email, password) is not None


# -- two-factor set-up --------------------------------------------------------------------------

@bp.get("/settings/two-factor")
@login_required
def two_factor_page() -> Any:
    agent = current_user._get_current_object()
    setup = None
    if not agent.two_factor and agent.totp_secret and request.args.get("setup"):
        uri = two_factor.provisioning_uri(agent)
        setup = {"secret": agent.totp_secret, "uri": uri, "qr": two_factor.qr_svg(uri)}
    return render_template("two_factor.html", setup=setup,
                           required=services.two_factor_required(db_session(), agent))


@bp.post("/settings/two-factor/start")
@login_required
def two_factor_start() -> Any:
    try:
        two_factor.start_setup(db_session(), current_user._get_current_object())
        commit()
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accounts.two_factor_page")), 303
    return redirect(url_for("accounts.two_factor_page", setup=1)), 303


@bp.post("/settings/two-factor/confirm")
@login_required
def two_factor_confirm() -> Any:
    agent = current_user._get_current_object()
    try:
        codes = two_factor.confirm(db_session(), agent, request.form.get("code", ""))
        commit()
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accounts.two_factor_page", setup=1)), 303
    flash(_("Two-factor login is on."), "success")
    return render_template("two_factor.html", recovery_codes=codes, setup=None, required=False)


@bp.post("/settings/two-factor/recovery-codes")
@login_required
def two_factor_recovery() -> Any:
    agent = current_user._get_current_object()
    try:
        codes = two_factor.regenerate_recovery_codes(db_session(), agent, request.form.get("code", ""))
        commit()
    except DomainError as exc:
        commit()
        flash(exc.message, "error")
        return redirect(url_for("accounts.two_factor_page")), 303
    return render_template("two_factor.html", recovery_codes=codes, setup=None, required=False)


@bp.post("/settings/two-factor/disable")
@login_required
def two_factor_disable() -> Any:
    db = db_session()
    agent = current_user._get_current_object()
    form = request.form
    if services.two_factor_required(db, agent):
        flash(_("Your role requires two-factor login; it cannot be turned off."), "error")
        return redirect(url_for("accounts.two_factor_page")), 303
    # Either proves it is the agent and not someone at an unlocked screen.
    password, code = form.get("password", ""), form.get("code", "")
    if not ((password and _password_ok(agent, password)) or (code and two_factor.verify(db, agent, code))):
        commit()
        flash(_("Enter your password or a current code to turn two-factor login off."), "error")
        return redirect(url_for("accounts.two_factor_page")), 303
    two_factor.disable(db, agent_actor(agent), agent)
    commit()
    flash(_("Two-factor login is off."), "success")
    return redirect(url_for("accounts.two_factor_page")), 303


# -- API tokens ---------------------------------------------------------------------------------

@bp.get("/settings/tokens")
@login_required
def tokens() -> Any:
    return render_template("tokens.html", tokens=services.list_api_tokens(db_session(), current_user))


@bp.post("/settings/tokens")
@login_required
def tokens_create() -> Any:
    db = db_session()
    agent = current_user._get_current_object()
    form = request.form
    try:
        token = services.create_api_token(db, current_actor(), agent, form.get("name", "")[:120],
                                          expires_days=form.get("expires_days") or None,
                                          scope="read" if form.get("read_only") else "full")
        commit()
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accounts.tokens")), 303
    return render_template("tokens.html", tokens=services.list_api_tokens(db, agent), new_token=token)


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def tokens_revoke(token_id: int) -> Any:
    agent = current_user._get_current_object()
    try:
        services.revoke_api_token(db_session(), current_actor(), token_id, owner=agent)
        commit()
        flash(_("Token revoked."), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("accounts.tokens")), 303


@bp.get("/admin/audit")
@login_required
@require_role(Role.admin)
def audit_log() -> Any:
    from helpdesk.accounts import audit_view
    from helpdesk.runtime import current_runtime

    db = db_session()
    args = request.args
    before = args.get("before", "")
    filters = audit_view.Filters(actor=args.get("actor", ""), action=args.get("action", ""),
                                 date_from=args.get("from", ""), date_to=args.get("to", ""),
                                 before=int(before) if before.isdigit() else None)
    error = None
    try:
        rows, next_before = audit_view.entries(db, filters)
    except DomainError as exc:
        error, rows, next_before = exc.message, [], None
    return render_template("admin/audit.html", entries=rows, next_before=next_before, filters=filters,
                           error=error, words=lambda action: audit_view.words(action, _),
                           details=lambda data: audit_view.details(data, _, label_of),
                           targets=audit_view.targets(db, rows, current_runtime().capability),
                           actions=audit_view.actions(db),
                           agents=db.scalars(select(Agent).order_by(Agent.name)).all()), 422 if error else 200
