"""HTTP side of the widget: the loader script a shop embeds and the frame page it opens."""

from __future__ import annotations

import io
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    url_for,
)
from flask_login import login_required
from sqlalchemy import select

from helpdesk import i18n
from helpdesk.accounts.models import Agent, Role
from helpdesk.chat import attachments, settings, visitors
from helpdesk.chat import settings as settings_room
from helpdesk.chat.state import state_of
from helpdesk.errors import DomainError, Invalid, NotFound, RateLimited
from helpdesk.tickets.models import Channel, Inbox
from helpdesk.web import commit, current_actor, db_session, require_role

bp = Blueprint("widget", __name__)

STATIC = Path(__file__).resolve().parent.parent / "static" / "widget"
LOCALES = i18n.LOCALES  # the widget has a catalogue (static/widget/locales) for each console language
DEFAULT_COLOR = "#4f46e5"
COLOR = re.compile(r"#[0-9a-fA-F]{3,8}")


@cache
def locale_strings(lang: str) -> dict[str, str]:
    strings = json.loads((STATIC / "locales" / "en.json").read_text(encoding="utf-8"))
    if lang != "en":
        strings.update(json.loads((STATIC / "locales" / f"{lang}.json").read_text(encoding="utf-8")))
    return strings


@bp.get("/widget.js")
def loader() -> Any:
    response = send_from_directory(STATIC, "loader.js", mimetype="text/javascript", max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/widget/frame")
def frame() -> Any:
    """The isolated page inside the shop's iframe: framed by the inbox's shop origins (any site
    when none is set)."""
    inbox = visitors.inbox_for_site(db_session(), request.args.get("site", ""))
    # The embed's `locale` option (data-locale on the script tag) wins over the shopper's browser.
    lang = i18n.supported(request.args.get("locale")) or request.accept_languages.best_match(LOCALES) or "en"
    settings = inbox.settings or {}
    config = {
        "site": inbox.site_key,
        "inbox": inbox.name,
        "lang": lang,
        "strings": locale_strings(lang),
        "prechat": bool(settings.get("prechat")),
        "consent": settings_room.consent_box(inbox),  # None: no marketing consent box
        "data_layer": settings_room.data_layer_on(inbox),  # tell the shop page's dataLayer about chats
        "greeting": settings.get("greeting") or "",
        "color": color if isinstance(color := settings.get("color"), str) and COLOR.fullmatch(color)
        else DEFAULT_COLOR,
        "max_body": int(current_app.config["MAX_BODY_CHARS"]),
        "max_attachment": int(current_app.config["CHAT_MAX_ATTACHMENT_BYTES"]),
    }
    response = current_app.make_response(render_template("widget/frame.html", config=config, lang=lang))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    # Shoppers' and agents' text is untrusted: even if it slipped into markup, no script could run.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; "
        f"frame-ancestors {settings_room.frame_ancestors(inbox)}")
    return response


@bp.post("/widget/attachments")
def upload() -> Any:
    """A shopper's file, before the message that carries it. Authenticated by the visitor token in
    `Authorization: Visitor TOKEN` with `X-Helpdesk-Site`: no cookies, so no CSRF to fear."""
    session = db_session()
    inbox = visitors.inbox_for_site(session, request.headers.get("X-Helpdesk-Site", ""))
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    visitor = visitors.resume(session, inbox, token.strip() if scheme == "Visitor" else "")
    if not state_of(current_app).throttle.flood(visitor.id):
        raise RateLimited("you are sending files too fast; wait a few seconds and try again")
    file = request.files.get("file")
    if file is None:
        raise Invalid("file", "send the file as multipart form field 'file'", code="file_missing")
    limit = int(current_app.config["CHAT_MAX_ATTACHMENT_BYTES"])
    data = file.stream.read(limit + 1)
    attachment = attachments.store_upload(session, visitor, filename=file.filename or "file", data=data,
                                          max_bytes=limit)
    commit()
    return jsonify(attachments.upload_dict(attachment, current_app.secret_key)), 201


@bp.get("/widget/attachments/<public_id>")
def download(public_id: str) -> Any:
    attachment = attachments.load_signed(db_session(), current_app.secret_key, public_id,
                                         request.args.get("sig", ""),
                                         max_age=float(current_app.config["WIDGET_LINK_DAYS"]) * 86400)
    inline = attachment.content_type.startswith("image/")
    response = send_file(io.BytesIO(attachment.data), mimetype=attachment.content_type,
                         as_attachment=not inline, download_name=attachment.filename, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'"
    return response


def _chat_inbox(public_id: str) -> Inbox:
    inbox = db_session().scalar(select(Inbox).filter_by(public_id=public_id, channel=Channel.chat))
    if inbox is None:
        raise NotFound("no such chat inbox")
    return inbox


@bp.get("/admin/chat/<public_id>")
@login_required
@require_role(Role.admin)
def chat_settings(public_id: str) -> Any:
    inbox = _chat_inbox(public_id)
    agents = db_session().scalars(select(Agent).filter_by(active=True).order_by(Agent.name)).all()
    return render_template("widget/settings.html", inbox=inbox, agents=agents, options=inbox.settings or {},
                           member_ids={a.id for a in inbox.members})


@bp.post("/admin/chat/<public_id>")
@login_required
@require_role(Role.admin)
def chat_settings_save(public_id: str) -> Any:
    session = db_session()
    inbox = _chat_inbox(public_id)
    form = request.form
    wanted = set(form.getlist("members"))
    members = [a for a in session.scalars(select(Agent).filter_by(active=True)) if a.public_id in wanted]
    try:
        settings.update(session, current_actor(), inbox, greeting=form.get("greeting", ""),
                        color=form.get("color", ""), prechat=form.get("prechat") == "1",
                        auto_assign=form.get("auto_assign") == "1",
                        max_open_per_agent=form.get("max_open_per_agent", "0"), members=members,
                        allowed_origins=form.get("allowed_origins", ""), consent=form.get("consent") == "1",
                        consent_text=form.get("consent_text", ""), data_layer=form.get("data_layer") == "1")
        commit()
        flash("Chat settings saved.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("widget.chat_settings", public_id=public_id), code=303)
