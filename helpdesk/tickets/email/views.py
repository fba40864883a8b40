"""Agent-facing HTTP for email: attachment downloads, the admin page of raw inbound mail (failed,
rejected, ignored) with re-processing, per-inbox email settings, and console rendering helpers."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import func, select

from helpdesk import jobs
from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit
from helpdesk.db import utcnow
from helpdesk.errors import DomainError, Invalid, NotFound
from helpdesk.tickets import replies, uploads
from helpdesk.tickets import services as tickets
from helpdesk.tickets.email import compose, delivery, display, forwarding, ingest, outbound, stored
from helpdesk.tickets.email.imap import ImapConfig, schedule_poll
from helpdesk.tickets.email.models import ImapCursor, InboundMail, MailStatus
from helpdesk.tickets.models import Attachment, Channel, Inbox, Message
from helpdesk.web import commit, current_actor, database, db_session, local_url, require_role, wants_json

bp = Blueprint("email_admin", __name__)


@bp.get("/attachments/<public_id>")
@login_required
def attachment(public_id: str) -> Response:
    """Always a download, never rendered by the browser: a customer's file is untrusted."""
    row = db_session().scalar(select(Attachment).filter_by(public_id=public_id))
    if row is None:
        raise NotFound("no such attachment")
    inline_image = request.args.get("inline") == "1" and row.content_type in (
        "image/png", "image/jpeg", "image/gif", "image/webp")
    response = Response(row.data, mimetype=row.content_type if inline_image else "application/octet-stream")
    response.headers["Content-Disposition"] = (
        f"{'inline' if inline_image else 'attachment'}; filename*=UTF-8''{_quote(row.filename)}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name.replace("\r", "").replace("\n", ""), safe="")


@bp.get("/console/m/<public_id>/original")
@login_required
def original(public_id: str) -> Response:
    """The mail exactly as it arrived, for an agent who needs every header."""
    session = db_session()
    message = session.scalar(select(Message).filter_by(public_id=public_id))
    inbound_id = (message.meta or {}).get("inbound") if message else None
    row = session.scalar(select(InboundMail).filter_by(public_id=inbound_id)) if inbound_id else None
    if row is None:
        raise NotFound("no original mail for this message")
    response = Response(row.raw, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f"attachment; filename={message.public_id}.eml"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/console/m/<public_id>/retry-send")
@login_required
def retry_send(public_id: str) -> Any:
    """The console's Retry under a reply whose delivery failed (CSRF-checked like every form)."""
    try:
        message = delivery.retry_delivery(db_session(), current_actor(), public_id, now=utcnow())
        commit()
    except DomainError as exc:
        db_session().rollback()
        if wants_json():
            return jsonify({"error": {"code": exc.code, "message": exc.message}}), exc.status
        flash(exc.message, "error")
        return redirect(local_url(request.referrer, "/console"), code=303)
    if wants_json():
        return jsonify({"delivery": message.delivery.value, "seq": message.seq})
    return redirect(url_for("console.conversation", public_id=message.conversation.public_id,
                            _anchor=f"m{message.seq}"), code=303)


# -- console: new email, forward, signature -----------------------------------------------------

def _email_inboxes() -> list[Inbox]:
    return list(db_session().scalars(select(Inbox).filter_by(channel=Channel.email).order_by(Inbox.name)))


@bp.get("/console/compose")
@login_required
def compose_page() -> Any:
    """"New email": To, Cc, Bcc, subject, body, files, the inbox it leaves from."""
    inboxes = _email_inboxes()
    signatures = {i.public_id: replies.signature_for(db_session(), current_user.id, current_user.name, i)
                  for i in inboxes}
    return render_template("console/compose.html", inboxes=inboxes, signatures=signatures,
                           form=request.args, max_file_bytes=int(current_app.config["CHAT_MAX_ATTACHMENT_BYTES"]))


@bp.post("/console/compose")
@login_required
def compose_send() -> Any:
    from helpdesk.tickets.views import request_files

    session = db_session()
    form = request.form
    inbox = session.scalar(select(Inbox).filter_by(public_id=form.get("inbox", ""))) if form.get("inbox") else None
    try:
        files = uploads.checked_files(request_files(), max_bytes=int(current_app.config["CHAT_MAX_ATTACHMENT_BYTES"]))
        conversation = compose.compose(session, current_actor(), inbox=inbox, to=form.get("to"),
                                       cc=form.get("cc"), bcc=form.get("bcc"), subject=form.get("subject"),
                                       body=form.get("body", ""), attachments=files)
        public_id = conversation.public_id
        commit()
    except DomainError as exc:
        session.rollback()
        if wants_json():
            return jsonify(exc.as_dict()), exc.status
        flash(exc.message, "error")
        inboxes = _email_inboxes()
        signatures = {i.public_id: replies.signature_for(session, current_user.id, current_user.name, i)
                      for i in inboxes}
        return render_template("console/compose.html", inboxes=inboxes, signatures=signatures, form=form,
                               max_file_bytes=int(current_app.config["CHAT_MAX_ATTACHMENT_BYTES"])), exc.status
    if wants_json():
        return jsonify({"conversation_id": public_id}), 201
    flash(_("Email queued for sending."), "success")
    return redirect(url_for("console.conversation", public_id=public_id), code=303)


@bp.post("/console/c/<public_id>/forward")
@login_required
def forward(public_id: str) -> Any:
    """Forward the conversation, or one message of it, with a note (recorded as a private note)."""
    session = db_session()
    conversation = tickets.get_conversation(session, public_id, current_actor())
    form = request.form
    try:
        record = forwarding.forward(session, current_actor(), conversation, to=form.get("to"), cc=form.get("cc"),
                                    note=form.get("note", ""), message_id=form.get("message") or None)
        outbound.plan_forward(session, record, outbound.OutboundSettings.from_config(current_app.config))
        seq = record.seq
        commit()
    except DomainError as exc:
        session.rollback()
        if wants_json():
            return jsonify(exc.as_dict()), exc.status
        flash(exc.message, "error")
        return redirect(url_for("console.conversation", public_id=public_id), code=303)
    if wants_json():
        return jsonify({"seq": seq}), 201
    flash(_("Forward queued for sending."), "success")
    return redirect(url_for("console.conversation", public_id=public_id, _anchor=f"m{seq}"), code=303)


@bp.post("/settings/signature")
@login_required
def signature_save() -> Any:
    """The agent's own email signature (profile page); empty falls back to the inbox's."""
    try:
        replies.save_signature(db_session(), current_actor(), request.form.get("signature", ""))
        commit()
        flash(_("Signature saved."), "success")
    except DomainError as exc:
        db_session().rollback()
        flash(exc.message, "error")
    return redirect(url_for("accounts.profile"), code=303)


# -- console rendering --------------------------------------------------------------------------

THREADED_BY = {"in_reply_to": "In-Reply-To", "references": "References", "signed_token": "our signed token",
               "reply_address": "the reply address", "subject_ref": "the [#REF] in the subject"}


def render_email(message: Message) -> dict[str, Any] | None:
    """What the conversation page shows for an email message: the display the worker stored at
    ingest (safe HTML, the folded quote, how many remote images wait for the agent's click).
    Nothing is parsed, sanitised or folded here: a mail without its display yet (older than the
    table, or still being computed by the backfill job) shows its plain text unfolded."""
    meta = message.meta or {}
    if not stored.needs_display(message):
        return None
    cache = g.setdefault("email_displays", {})
    if message.conversation_id not in cache:
        cache[message.conversation_id] = stored.displays_of(db_session(), message.conversation_id)
    row = cache[message.conversation_id].get(message.id)
    load = request.args.get("images") == "1"
    if row is None:
        html, quoted, blocked = display.plain_text_html(message.body_text), "", 0
    elif load and row.html_remote is not None:
        html, quoted, blocked = row.html_remote, row.quoted_remote or "", 0
    else:
        html, quoted, blocked = row.html, row.quoted, row.blocked_images
    return {"html": Markup(html), "quoted": Markup(quoted), "blocked": blocked, "pending": row is None,
            "threaded_by": THREADED_BY.get(meta.get("threaded_by") or ""),
            "warning": meta.get("warning"), "note": meta.get("threading_note"), "auto": meta.get("auto")}


# -- admin: inbound mail ------------------------------------------------------------------------

@bp.get("/admin/mail")
@login_required
@require_role(Role.admin)
def mail_list() -> Any:
    session = db_session()
    status = request.args.get("status", "failed")
    if status not in {s.value for s in MailStatus}:
        status = "failed"
    counts = dict(session.execute(select(InboundMail.status, func.count())
                                  .group_by(InboundMail.status)).all())
    mails = session.scalars(select(InboundMail).filter_by(status=MailStatus(status))
                            .order_by(InboundMail.received_at.desc()).limit(200)).all()
    inboxes = session.scalars(select(Inbox).filter_by(channel=Channel.email).order_by(Inbox.name)).all()
    cursors = {c.inbox_id: c for c in session.scalars(select(ImapCursor))}
    return render_template("admin/mail.html", mails=mails, status=status,
                           statuses=[s.value for s in MailStatus],
                           counts={MailStatus(k).value: v for k, v in counts.items()}, inboxes=inboxes,
                           cursors=cursors)


def _inbound(public_id: str) -> InboundMail:
    row = db_session().scalar(select(InboundMail).filter_by(public_id=public_id))
    if row is None:
        raise NotFound("no such inbound mail")
    return row


@bp.get("/admin/mail/<public_id>/raw")
@login_required
@require_role(Role.admin)
def mail_raw(public_id: str) -> Response:
    row = _inbound(public_id)
    response = Response(row.raw, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f"attachment; filename={row.public_id}.eml"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/admin/mail/<public_id>/reprocess")
@login_required
@require_role(Role.admin)
def mail_reprocess(public_id: str) -> Any:
    """Queue the mail for the worker to parse again, and wait a moment for its answer."""
    from helpdesk.tickets.email.webhooks import ingest_pause

    row = _inbound(public_id)
    audit(db_session(), current_actor(), "email.reprocess", "inbound_mail", row.public_id)
    queued = ingest.queue_reprocess(db_session(), row)
    inbound_id = row.id
    commit()
    back = redirect(url_for("email_admin.mail_list", status=request.args.get("status", "failed")), code=303)
    if queued is None:
        flash(f"Mail {public_id} is {row.status.value}: nothing to re-process.", "success")
        return back
    outcome = ingest.wait_for_outcome(database(), inbound_id, pause=ingest_pause(),
                                      seconds=float(current_app.config["EMAIL_INGEST_WAIT_SECONDS"]))
    if outcome is None:
        flash(f"Mail {public_id} is queued: the worker re-processes it shortly.", "success")
    elif outcome.action == "failed":
        flash(f"Still failing: {_inbound(public_id).error}", "error")
    else:
        flash(f"Mail {public_id}: {outcome.action}{' (' + outcome.reason + ')' if outcome.reason else ''}.",
              "success")
    return back


@bp.post("/admin/mail/inbox/<public_id>")
@login_required
@require_role(Role.admin)
def inbox_settings(public_id: str) -> Any:
    """IMAP account and acknowledgement options of one email inbox (kept in Inbox.settings)."""
    session = db_session()
    inbox = session.scalar(select(Inbox).filter_by(public_id=public_id, channel=Channel.email))
    if inbox is None:
        raise NotFound("no such email inbox")
    form = request.form
    settings = dict(inbox.settings or {})
    settings["acknowledge"] = form.get("acknowledge") == "1"
    try:
        if "signature" in form:
            settings["signature"] = replies.clean_inbox_signature(form.get("signature"))
        if form.get("imap_host"):
            old = settings.get("imap") or {}
            config = ImapConfig.from_form(form, keep_password=old.get("password"), old=old or None,
                                          allow_loopback=bool(current_app.config.get("IMAP_ALLOW_LOOPBACK")))
            settings["imap"] = config.as_settings()
        elif "imap_host" in form:
            settings.pop("imap", None)
    except Invalid as exc:
        flash(exc.message, "error")
        return redirect(url_for("email_admin.mail_list"), code=303)
    inbox.settings = settings
    audit(session, current_actor(), "inbox.email_settings", "inbox", inbox.public_id,
          imap=bool(settings.get("imap")), acknowledge=settings["acknowledge"],
          signature=bool(settings.get("signature")))
    if settings.get("imap"):
        schedule_poll(session, inbox.id, every=float(current_app.config["IMAP_POLL_SECONDS"]), delay=0)
    commit()
    flash(f"Email settings of {inbox.name} saved.", "success")
    return redirect(url_for("email_admin.mail_list"), code=303)


__all__ = ["bp", "jobs", "render_email"]
