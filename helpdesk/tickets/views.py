"""The agents' console: the queue and the conversation page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from helpdesk.accounts.models import Agent, Role
from helpdesk.db import utcnow
from helpdesk.errors import DomainError
from helpdesk.i18n import format_moment, format_units
from helpdesk.i18n.web import current_locale
from helpdesk.runtime import current_runtime
from helpdesk.tickets import canned, macros, queries, queue_sorts, services, uploads
from helpdesk.tickets import replies as replying
from helpdesk.tickets import search as searching
from helpdesk.tickets import snooze as snoozing
from helpdesk.tickets.models import (
    AgentSignature,
    CannedReply,
    Channel,
    Conversation,
    Inbox,
    Message,
    Priority,
    Status,
    Team,
)
from helpdesk.tickets.serialize import email_envelope, message_dict
from helpdesk.tickets.sla.serialize import badge as sla_badge
from helpdesk.tickets.sla.serialize import badges as sla_badges
from helpdesk.tickets.sla.services import state_of as sla_state_of
from helpdesk.web import commit, current_actor, db_session, local_url, require_role, wants_json

bp = Blueprint("console", __name__)

VIEWS = {"mine": lazy_gettext("Mine"), "unassigned": lazy_gettext("Unassigned"), "all": lazy_gettext("All")}


@bp.get("/")
def index() -> Any:
    return redirect(url_for("console.queue"))


@bp.get("/console")
@login_required
def queue() -> Any:
    session = db_session()
    view = request.args.get("view", "mine" if current_user.role.value == "agent" else "all")
    if view not in VIEWS:
        view = "all"
    q = (request.args.get("q") or "").strip()[:500]
    # A search looks in every status ("any") unless a tab is picked; the tabs then count matches.
    status = request.args.get("status") or ("any" if q else "open")
    if status not in STATUS_TABS:
        status = "open"
    inbox = None
    if inbox_id := request.args.get("inbox"):
        inbox = session.scalar(select(Inbox).filter_by(public_id=inbox_id))
    scope: dict[str, Any] = {"inbox": inbox}
    if view == "mine":
        scope["assignee"] = current_user
    elif view == "unassigned":
        scope["unassigned"] = True
    sort = request.args.get("sort", "activity")
    if sort not in queries.SORTS:
        sort = "activity"
    page = queries.list_conversations(session, status=None if status == "any" else status,
                                      limit=queries.parse_limit(request.args.get("limit"),
                                                                current_app_page_size()),
                                      cursor=request.args.get("cursor") or None, search=q or None, sort=sort,
                                      newest_first=True, **scope)
    # The views count open work, or with a search, matches in the chosen tab.
    view_status = None if status == "any" else status if q else "open"
    if q:
        found = queries.search_counts(session, q, me=current_user, inbox=inbox, newest_first=True,
                                      page_size=len(page.items))
        counts, view_counts = found.tabs(view), found.views(view_status)
    else:
        counts = queries.status_counts(session, **scope)
        view_counts = {
            "mine": queries.count(session, status="open", assignee=current_user, inbox=inbox),
            "unassigned": queries.count(session, status="open", unassigned=True, inbox=inbox),
            "all": queries.count(session, status="open", inbox=inbox),
        }
    snippets = searching.snippets(session, [c.id for c in page.items], searching.prepare(session, q)) if q else {}
    inboxes = session.scalars(select(Inbox).order_by(Inbox.name)).all()
    return render_template("console/queue.html", page=page, view=view, views=VIEWS, status=status,
                           previews=queue_sorts.previews(session, [c.id for c in page.items]),
                           sort_labels={key: _(label) for key, label in queue_sorts.LABELS.items()}, waited=waited,
                           statuses=[s.value for s in Status], counts=counts, view_counts=view_counts,
                           fmt_count=queries.format_at_least if q and found.partial else
                           queries.format_count, snippets=snippets, view_status=view_status,
                           inboxes=inboxes, inbox=inbox, q=q, sort=sort,
                           sla_badges=sla_badges(session, page.items, current_runtime().clock()))


STATUS_TABS = {"any", *(s.value for s in Status)}


def waited(since: Any) -> str:
    """"5 min", "3 hr", "2 days" ("5 Min.", "3 Std.", "2 Tg."): how long a customer has waited,
    short enough for a queue row, in the console's language (CLDR's short units)."""
    minutes = max(0, int((utcnow() - since).total_seconds() // 60))
    locale = current_locale()
    if minutes < 1:
        return "<" + format_units([(1, "minute")], locale, "short")
    if minutes < 60:
        return format_units([(minutes, "minute")], locale, "short")
    if minutes < 48 * 60:
        return format_units([(minutes // 60, "hour")], locale, "short")
    return format_units([(minutes // (24 * 60), "day")], locale, "short")


def current_app_page_size() -> int:
    from flask import current_app

    return int(current_app.config["PAGE_SIZE"])


def _conversation(public_id: str) -> Conversation:
    return services.get_conversation(db_session(), public_id, current_actor())


@bp.get("/console/c/<public_id>")
@login_required
def conversation(public_id: str) -> Any:
    session = db_session()
    conv = _conversation(public_id)
    # The thread with every message's attachments in two statements, not one per message.
    session.scalars(select(Conversation).where(Conversation.id == conv.id).options(
        selectinload(Conversation.messages).selectinload(Message.attachments))).one()
    agents = session.scalars(select(Agent).filter_by(active=True).order_by(Agent.name)).all()
    teams = session.scalars(select(Team).order_by(Team.name)).all()
    history = queries.list_conversations(session, customer=conv.customer, limit=10).items
    replies = [(r, canned.render(r.body, conv, current_user.name)) for r in canned.all_replies(session)]
    # Higher rooms draw into this page through the runtime's panels (tickets/ imports none of them).
    panels = current_runtime().panels
    message_views = {m.id: view for m in conv.messages
                     if (view := panels.first("conversation.message", m)) is not None}
    email = None
    if conv.channel is Channel.email:
        email = {"defaults": replying.reply_defaults(session, conv),
                 "signature": replying.signature_for(session, current_user.id, current_user.name, conv.inbox)}
    return render_template("console/conversation.html", conv=conv, agents=agents, teams=teams, email=email,
                           max_file_bytes=int(current_app.config["CHAT_MAX_ATTACHMENT_BYTES"]),
                           sidebar_panels=panels.render("conversation.sidebar", session, conv),
                           message_views=message_views,
                           envelopes={m.id: e for m in conv.messages if (e := email_envelope(m)) is not None},
                           statuses=[s.value for s in Status], priorities=[p.value for p in Priority],
                           snooze_choices=SNOOZE_CHOICES, canned_replies=replies, sla=_sla_view(session, conv),
                           macros=macros.visible_macros(session, current_actor()),
                           history=[c for c in history if c.id != conv.id])


def _sla_view(session: Any, conv: Conversation) -> dict[str, Any] | None:
    state = sla_state_of(session, conv)
    if state is None or state.policy is None:
        return None
    breached = {b.metric for b in state.breaches}
    met = {"first_response": conv.first_response_at, "next_response": None, "resolution": conv.resolved_at}
    targets = [(label, metric, due, met[metric]) for label, metric, due in (
        (_("First response"), "first_response", state.first_response_due_at),
        (_("Next response"), "next_response", state.next_response_due_at),
        (_("Resolution"), "resolution", state.resolution_due_at)) if due is not None]
    return {"policy": state.policy.name, "badge": sla_badge(state, current_runtime().clock()),
            "targets": [{"label": label, "due": due, "met": done, "breached": metric in breached}
                        for label, metric, due, done in targets],
            "breached": sorted(breached)}


def _back(conv: Conversation) -> Any:
    return redirect(url_for("console.conversation", public_id=conv.public_id), code=303)


def _act(public_id: str, action: Any) -> Any:
    conv = _conversation(public_id)
    try:
        action(db_session(), conv)
        commit()
    except DomainError as exc:
        flash(exc.message, "error")
    return _back(conv)


@bp.post("/console/c/<public_id>/reply")
@login_required
def reply(public_id: str) -> Any:
    """The reply box: text, To/Cc/Bcc on email conversations, and files (multipart). The live
    console posts here with Accept: application/json when a reply carries more than text."""
    form = request.form
    conv = _conversation(public_id)
    try:
        files = uploads.checked_files(request_files(), max_bytes=int(current_app.config["CHAT_MAX_ATTACHMENT_BYTES"]))
        private = form.get("private") == "1"
        message = replying.reply(db_session(), current_actor(), conv, body=form.get("body", ""), private=private,
                                client_msg_id=form.get("client_msg_id") or None, attachments=files,
                                to=None if private else form.get("to") or None,
                                cc=None if private else form.get("cc") or None,
                                bcc=None if private else form.get("bcc") or None)
        commit()
    except DomainError as exc:
        db_session().rollback()
        if wants_json():
            return jsonify(exc.as_dict()), exc.status
        flash(exc.message, "error")
        return _back(conv)
    if wants_json():
        return jsonify(message=message_dict(message, for_agent=True)), 201
    return _back(conv)


def own_signature() -> str:
    """The logged-in agent's own signature, for the profile page (a Jinja global: accounts/ is a
    lower room and cannot read it itself)."""
    row = db_session().get(AgentSignature, current_user.id) if current_user.is_authenticated else None
    return row.body if row is not None else ""


def request_files() -> list[tuple[str, bytes]]:
    """The uploaded `files` of a multipart request, each read to one byte past the per-file limit
    (the body limit, limits.py, bounds the request as a whole)."""
    limit = int(current_app.config["CHAT_MAX_ATTACHMENT_BYTES"])
    return [(f.filename or "file", f.stream.read(limit + 1)) for f in request.files.getlist("files")
            if f.filename or f.content_length]


SNOOZE_CHOICES = {"1h": ("1 hour", timedelta(hours=1)), "4h": ("4 hours", timedelta(hours=4)),
                  "1d": ("1 day", timedelta(days=1)), "3d": ("3 days", timedelta(days=3)),
                  "1w": ("1 week", timedelta(weeks=1))}


@bp.post("/console/c/<public_id>/status")
@login_required
def status(public_id: str) -> Any:
    def act(session: Any, conv: Conversation) -> None:
        snooze = None
        if choice := request.form.get("snooze_for"):
            if choice not in SNOOZE_CHOICES:
                abort(400, "snooze_for is not one of the offered choices")
            snooze = utcnow() + SNOOZE_CHOICES[choice][1]
        elif picked := request.form.get("snooze_until"):
            snooze = snoozing.parse_local(picked, request.form.get("tz_offset"), utcnow())
        services.set_status(session, current_actor(), conv, request.form.get("status", ""), snooze)
        if conv.status is Status.snoozed and conv.snoozed_until:
            flash(_("Snoozed until %(time)s UTC. Unsnooze brings it back now.",
                    time=format_moment(conv.snoozed_until, current_locale())), "success")
    return _act(public_id, act)


@bp.post("/console/c/<public_id>/assign")
@login_required
def assign(public_id: str) -> Any:
    session = db_session()
    agent_id = request.form.get("assignee", "")
    if agent_id == "me":
        agent: Agent | None = current_user._get_current_object()
    elif agent_id:
        agent = session.scalar(select(Agent).filter_by(public_id=agent_id))
        if agent is None:
            abort(400, "unknown agent")
    else:
        agent = None
    team: Any = ...
    if "team" in request.form:
        team_id = request.form.get("team", "")
        team = session.scalar(select(Team).filter_by(public_id=team_id)) if team_id else None
    return _act(public_id, lambda s, c: services.assign(s, current_actor(), c, agent, team))


@bp.post("/console/c/<public_id>/priority")
@login_required
def priority(public_id: str) -> Any:
    return _act(public_id, lambda s, c: services.set_priority(s, current_actor(), c,
                                                              request.form.get("priority", "")))


@bp.post("/console/c/<public_id>/tags")
@login_required
def tags(public_id: str) -> Any:
    names = [t for t in request.form.get("tags", "").split(",")]
    return _act(public_id, lambda s, c: services.set_tags(s, current_actor(), c, names))


BULK_ACTIONS = {"assign_me", "unassign", "open", "pending", "resolved"}
MAX_BULK = 100


@bp.post("/console/bulk")
@login_required
def bulk() -> Any:
    """Apply one action to the conversations ticked in the queue, all or nothing."""
    session = db_session()
    action = request.form.get("action", "")
    ids = request.form.getlist("ids")[:MAX_BULK]
    if action not in BULK_ACTIONS:
        abort(400, "unknown bulk action")
    if not ids:
        flash(_("Tick at least one conversation first."), "error")
        return redirect(local_url(request.referrer, url_for("console.queue")), code=303)
    actor = current_actor()
    me: Agent = current_user._get_current_object()
    try:
        for public_id in ids:
            conv = services.get_conversation(session, public_id, actor)
            if action == "assign_me":
                services.assign(session, actor, conv, me)
            elif action == "unassign":
                services.assign(session, actor, conv, None)
            else:
                services.set_status(session, actor, conv, action)
        commit()
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(ngettext("Updated %(num)d conversation.", "Updated %(num)d conversations.", len(ids)), "success")
    return redirect(local_url(request.referrer, url_for("console.queue")), code=303)


@bp.get("/console/team")
@login_required
@require_role(Role.manager)
def team() -> Any:
    """Who holds how much work right now: the manager's view of the floor."""
    session = db_session()
    load = dict(session.execute(
        select(Conversation.assignee_id, func.count()).where(Conversation.status == Status.open)
        .group_by(Conversation.assignee_id)).all())
    pending = dict(session.execute(
        select(Conversation.assignee_id, func.count()).where(Conversation.status == Status.pending)
        .group_by(Conversation.assignee_id)).all())
    agents = session.scalars(select(Agent).filter_by(active=True).order_by(Agent.name)).all()
    return render_template("console/team.html", agents=agents, load=load, pending=pending,
                           unassigned=load.get(None, 0))


@bp.get("/console/canned")
@login_required
def canned_list() -> Any:
    replies = canned.all_replies(db_session())
    return render_template("console/canned.html", replies=replies, placeholders=canned.PLACEHOLDERS,
                           can_edit=current_user.has_role(Role.manager))


@bp.post("/console/canned")
@login_required
@require_role(Role.manager)
def canned_save() -> Any:
    session = db_session()
    form = request.form
    reply = None
    if form.get("id"):
        reply = session.scalar(select(CannedReply).filter_by(public_id=form["id"]))
        if reply is None:
            abort(404, "no such canned reply")
    try:
        saved = canned.save_canned_reply(session, current_actor(), shortcut=form.get("shortcut", ""),
                                         title=form.get("title", ""), body=form.get("body", ""), reply=reply)
        commit()
        flash(_("Saved /%(shortcut)s.", shortcut=saved.shortcut), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("console.canned_list"), code=303)


@bp.post("/console/canned/<public_id>/delete")
@login_required
@require_role(Role.manager)
def canned_delete(public_id: str) -> Any:
    canned.delete_canned_reply(db_session(), current_actor(), public_id)
    commit()
    flash(_("Canned reply deleted."), "success")
    return redirect(url_for("console.canned_list"), code=303)
