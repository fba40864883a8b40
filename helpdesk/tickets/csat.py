"""CSAT surveys: asked when a conversation is resolved, answered once by its customer.

Flow. `set_status(..., resolved)` records ConversationUpdated. A listener installed by `init_app`
runs inside that same transaction, just before it commits, and writes a `csat.send` job (delayed
by the inbox's setting): the ticket services know nothing of surveys, yet the job exists exactly
when the resolve does. When the job runs, and the conversation is still resolved, it creates the survey row -
freezing agent, team and inbox as they are at sending time - and records SurveyRequested. The
channel adapters react to that event after commit: chat emits `csat:request` to the widget, the
email code sends `survey_email(survey)`. Both feed answers back through `submit_score`.

The email carries one link per score, all with the same signed token (survey id + nonce): the
first click records the score and spends the token; the page it opens carries a second, form
token with which the customer adds a comment or changes the score while the window is open.
"""

from __future__ import annotations

import html
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpdesk import events, jobs
from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit, require
from helpdesk.actors import Actor, customer_actor
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from helpdesk.i18n import DEFAULT_LOCALE, N_, translations
from helpdesk.runtime import JobContext, Runtime
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.events import ConversationUpdated, CsatAnswered
from helpdesk.tickets.models import Conversation, Inbox, Status

log = logging.getLogger(__name__)

SEND_JOB = "csat.send"
MAX_COMMENT = 2000
MAX_QUESTION = 300
DEFAULT_QUESTION = N_("How would you rate the help you received?")
LINK_SALT = "helpdesk.csat.link"
FORM_SALT = "helpdesk.csat.form"
# A hard cap on any signed survey link; each survey also closes at its own expires_at.
LINK_MAX_AGE = timedelta(days=31)


@dataclass(frozen=True)
class SurveyRequested(events.Event):
    """A survey is ready to be shown (chat: `csat:request`) or mailed (email)."""

    survey_id: int
    conversation_id: int
    channel: str


class LinkGone(DomainError):
    status = 410
    code = "token_used"


# -- per-inbox settings ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CsatSettings:
    enabled: bool = True
    delay_minutes: int = 0
    question: str = DEFAULT_QUESTION
    answer_days: int = 7  # how long the survey (and its email link) can be answered
    change_window_hours: int = 24  # after the first answer, a new score replaces it until then


def inbox_settings(inbox: Inbox) -> CsatSettings:
    raw = (inbox.settings or {}).get("csat") or {}
    defaults = CsatSettings()
    return CsatSettings(
        enabled=bool(raw.get("enabled", defaults.enabled)),
        delay_minutes=int(raw.get("delay_minutes", defaults.delay_minutes)),
        question=str(raw.get("question") or defaults.question),
        answer_days=int(raw.get("answer_days", defaults.answer_days)),
        change_window_hours=int(raw.get("change_window_hours", defaults.change_window_hours)),
    )


def update_inbox_settings(session: Session, actor: Actor, inbox: Inbox, *, enabled: bool,
                          delay_minutes: Any, question: str) -> CsatSettings:
    require(actor, Role.admin)
    try:
        delay = int(delay_minutes)
    except (TypeError, ValueError):
        raise Invalid("delay_minutes", "a whole number of minutes") from None
    if not 0 <= delay <= 7 * 24 * 60:
        raise Invalid("delay_minutes", "between 0 and 10080 (a week)")
    question = " ".join((question or "").split())
    if len(question) > MAX_QUESTION:
        raise Invalid("question", f"at most {MAX_QUESTION} characters")
    current = dict((inbox.settings or {}).get("csat") or {})
    current.update(enabled=bool(enabled), delay_minutes=delay, question=question or DEFAULT_QUESTION)
    # A new dict, not an in-place change: the JSON column only notices reassignment.
    inbox.settings = {**(inbox.settings or {}), "csat": current}
    session.flush()
    audit(session, actor, "inbox.csat", "inbox", inbox.public_id, **current)
    return inbox_settings(inbox)


# -- requesting -----------------------------------------------------------------------------------

def request_survey_later(session: Session, conversation: Conversation) -> jobs.Job | None:
    """Write the job that will send the survey, if the inbox asks for surveys."""
    settings = inbox_settings(conversation.inbox)
    if not settings.enabled:
        return None
    exists = session.scalar(select(CsatSurvey.id).filter_by(conversation_id=conversation.id))
    if exists is not None:
        return None  # one survey per conversation: a reopened and re-resolved one is not asked again
    return jobs.enqueue(session, SEND_JOB, {"conversation_id": conversation.id},
                        delay=settings.delay_minutes * 60, dedupe_key=f"csat:{conversation.id}")


def send_survey_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    with ctx.db.unit_of_work() as session:
        conversation = session.get(Conversation, int(payload["conversation_id"]))
        if conversation is not None:
            create_survey(session, conversation)


def create_survey(session: Session, conversation: Conversation) -> CsatSurvey | None:
    """Create the survey now, if the conversation is still resolved; idempotent."""
    if conversation.status is not Status.resolved:
        return None  # reopened during the delay: the next resolve asks again
    settings = inbox_settings(conversation.inbox)
    if not settings.enabled:
        return None
    if existing := session.scalar(select(CsatSurvey).filter_by(conversation_id=conversation.id)):
        return existing
    now = utcnow()
    survey = CsatSurvey(
        conversation=conversation, inbox_id=conversation.inbox_id, agent_id=conversation.assignee_id,
        team_id=conversation.team_id, channel=conversation.channel, question=settings.question,
        nonce=secrets.token_urlsafe(12), sent_at=now, expires_at=now + timedelta(days=settings.answer_days),
        comment="",
    )
    session.add(survey)
    session.flush()
    # Channel code whose delivery must be a job written in this same transaction (the email
    # sender) listens with `subscribe_in_transaction`; the widget's emit listens after commit.
    events.record(session, SurveyRequested(survey.id, conversation.id, conversation.channel.value))
    return survey


def survey_for_conversation(session: Session, conversation: Conversation) -> CsatSurvey | None:
    return session.scalar(select(CsatSurvey).filter_by(conversation_id=conversation.id))


# -- answering ------------------------------------------------------------------------------------

def parse_score(score: Any) -> int:
    if isinstance(score, bool):
        raise Invalid("score", "a whole number from 1 to 5")
    try:
        value = int(str(score).strip()) if isinstance(score, str) else int(score)
    except (TypeError, ValueError):
        raise Invalid("score", "a whole number from 1 to 5") from None
    if isinstance(score, float) and score != value:
        raise Invalid("score", "a whole number from 1 to 5")
    if not 1 <= value <= 5:
        raise Invalid("score", "a whole number from 1 to 5")
    return value


def submit_score(session: Session, actor: Actor, survey: CsatSurvey, score: Any,
                 comment: str | None = None) -> CsatSurvey:
    """Record the customer's answer. Within the change window a new score replaces the first;
    a comment of None keeps the stored one."""
    if actor.type != "customer":
        raise Forbidden("only the customer answers a survey; agents cannot answer on their behalf",
                        code="agent_cannot_answer")
    if actor.id != survey.conversation.customer_id:
        raise NotFound("no such survey")
    value = parse_score(score)
    if comment is not None:
        if not isinstance(comment, str):
            raise Invalid("comment", "must be text")
        comment = comment.strip()
        if len(comment) > MAX_COMMENT:
            raise Invalid("comment", f"at most {MAX_COMMENT} characters")
    now = utcnow()
    if survey.first_answered_at is None:
        if now > survey.expires_at:
            raise LinkGone("this survey has closed", code="survey_expired")
        survey.first_answered_at = now
    else:
        window = timedelta(hours=inbox_settings(survey.conversation.inbox).change_window_hours)
        if now > survey.first_answered_at + window:
            raise Conflict("this survey was answered and can no longer be changed", code="survey_closed")
    survey.score = value
    if comment is not None:
        survey.comment = comment
    survey.answered_at = now
    session.flush()
    events.record(session, CsatAnswered(survey.conversation_id, survey.id, value, survey.comment or ""))
    return survey


def submit_for_conversation(session: Session, actor: Actor, conversation: Conversation, score: Any,
                            comment: str | None = None) -> CsatSurvey:
    """The widget's `csat:submit`: answer the survey of a conversation."""
    survey = survey_for_conversation(session, conversation)
    if survey is None:
        raise NotFound("this conversation has no survey", code="no_survey")
    return submit_score(session, actor, survey, score, comment)


# -- signed links ---------------------------------------------------------------------------------

def _serializer(salt: str, secret_key: str | None) -> URLSafeTimedSerializer:
    if not secret_key:
        raise RuntimeError("no secret to sign survey links: pass the app's SECRET_KEY")
    return URLSafeTimedSerializer(secret_key, salt=salt)


def link_token(survey: CsatSurvey, secret_key: str | None = None) -> str:
    return _serializer(LINK_SALT, secret_key).dumps([survey.public_id, survey.nonce])


def form_token(survey: CsatSurvey, secret_key: str | None = None) -> str:
    return _serializer(FORM_SALT, secret_key).dumps([survey.public_id, survey.nonce])


def _load(session: Session, salt: str, token: str, max_age: timedelta,
          secret_key: str | None) -> CsatSurvey:
    try:
        survey_id, nonce = _serializer(salt, secret_key).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise LinkGone("this survey link has expired", code="token_expired") from None
    except (BadSignature, ValueError, TypeError):
        raise NotFound("this survey link is not valid", code="invalid_token") from None
    survey = session.scalar(select(CsatSurvey).filter_by(public_id=str(survey_id)))
    if survey is None or not secrets.compare_digest(str(nonce), survey.nonce):
        raise NotFound("this survey link is not valid", code="invalid_token")
    return survey


def answer_by_link(session: Session, token: str, score: Any, *, signed_in: Actor | None = None,
                   secret_key: str | None = None) -> CsatSurvey:
    """A click on a score in the survey email: records it as the customer and spends the link.
    `signed_in` is whoever the browser is logged in as: an agent may not answer for the customer."""
    survey = _load(session, LINK_SALT, token, LINK_MAX_AGE, secret_key)
    if signed_in is not None and signed_in.type != "customer":
        # Checked before the link is spent, so that the customer's own click still works.
        raise Forbidden("you are signed in as an agent: an agent cannot answer a survey for the customer",
                        code="agent_cannot_answer")
    if utcnow() > survey.expires_at:
        raise LinkGone("this survey link has expired", code="token_expired")
    value = parse_score(score)
    # Compare-and-set, so that two racing clicks cannot both spend the link.
    spent = session.execute(update(CsatSurvey).where(CsatSurvey.id == survey.id,
                                                     CsatSurvey.link_used_at.is_(None))
                            .values(link_used_at=utcnow())).rowcount
    if spent != 1:
        raise LinkGone("this survey link was already used", code="token_used")
    session.refresh(survey)
    return submit_score(session, customer_actor(survey.conversation.customer), survey, value, None)


def survey_for_link(session: Session, token: str, secret_key: str | None = None) -> CsatSurvey:
    """The survey of an unspent, unexpired email link, without spending it (the score picker)."""
    survey = _load(session, LINK_SALT, token, LINK_MAX_AGE, secret_key)
    if survey.link_used_at is not None:
        raise LinkGone("this survey link was already used", code="token_used")
    if utcnow() > survey.expires_at:
        raise LinkGone("this survey link has expired", code="token_expired")
    return survey


def answer_by_form(session: Session, token: str, score: Any, comment: str | None, *,
                   signed_in: Actor | None = None, secret_key: str | None = None) -> CsatSurvey:
    """The comment page: add a comment, or change the score while the window is open."""
    survey = survey_for_form(session, token, secret_key)
    if signed_in is not None and signed_in.type != "customer":
        raise Forbidden("you are signed in as an agent: an agent cannot answer a survey for the customer",
                        code="agent_cannot_answer")
    return submit_score(session, customer_actor(survey.conversation.customer), survey, score, comment)


def survey_for_form(session: Session, token: str, secret_key: str | None = None) -> CsatSurvey:
    """The survey behind the comment page's form token (valid while answers may change)."""
    survey = _load(session, FORM_SALT, token, LINK_MAX_AGE, secret_key)
    if survey.link_used_at is None and survey.first_answered_at is None:
        raise NotFound("this survey link is not valid", code="invalid_token")
    return survey


def can_change(survey: CsatSurvey, now: datetime | None = None) -> bool:
    if survey.first_answered_at is None:
        return True
    window = timedelta(hours=inbox_settings(survey.conversation.inbox).change_window_hours)
    return (now or utcnow()) <= survey.first_answered_at + window


# -- the email ------------------------------------------------------------------------------------

SCORE_LABELS = {1: N_("Very poor"), 2: N_("Poor"), 3: N_("Okay"), 4: N_("Good"), 5: N_("Excellent")}
# Plain coloured numbers in the mail: mail clients drop SVG, and emoji fonts are not everywhere.
SCORE_COLORS = {1: "#d93f3f", 2: "#ef7b5a", 3: "#e8a317", 4: "#5fb97a", 5: "#0f9d58"}


def score_url(survey: CsatSurvey, score: int, *, secret_key: str | None = None,
              base_url: str | None = None) -> str:
    base = (base_url or "").rstrip("/")
    return f"{base}/csat/{link_token(survey, secret_key)}?score={score}"


def survey_email(survey: CsatSurvey, *, secret_key: str | None = None,
                 base_url: str | None = None) -> tuple[str, str, str]:
    """(subject, text, html) of the survey mail, with one one-click link per score, in the
    customer's language where it is known."""
    conversation = survey.conversation
    _ = translations(conversation.customer.locale or DEFAULT_LOCALE).gettext
    name = conversation.customer.name
    subject = _("How did we do?") + f" [#{conversation.ref}]"
    question = survey.question if survey.question and survey.question != DEFAULT_QUESTION else _(DEFAULT_QUESTION)
    about = conversation.subject or _("your recent conversation")
    labels = {s: _(label) for s, label in SCORE_LABELS.items()}
    greeting = _("Hi %(name)s,") % {"name": name} if name else _("Hi there,")
    resolved = _("Your conversation with us about “%(about)s” was resolved.")
    one_click = _("One click is enough; you can add a comment on the page that opens.")
    days = (survey.expires_at - survey.sent_at).days
    links = {s: score_url(survey, s, secret_key=secret_key, base_url=base_url) for s in range(5, 0, -1)}
    text = "\n".join([
        greeting, "",
        f"{resolved % {'about': about}} {question}", "",
        *(f"  {s} - {labels[s]}: {url}" for s, url in links.items()), "",
        one_click,
        _("The links work for %(days)d days.") % {"days": days}, "",
    ])
    e = html.escape
    buttons = "".join(
        f'<td style="padding:4px"><a href="{e(url)}" style="display:block;width:84px;padding:10px 0;'
        f'border:1px solid #e4e7ef;border-radius:10px;text-decoration:none;color:#1d2433;text-align:center;'
        f'font:12px system-ui,sans-serif"><span style="display:inline-block;width:34px;height:34px;'
        f'line-height:34px;border-radius:17px;background:{SCORE_COLORS[s]};color:#fff;font-size:17px;'
        f'font-weight:700">{s}</span><br>{e(labels[s])}</a></td>'
        for s, url in sorted(links.items()))
    body = (
        f'<!doctype html><html lang="{e(conversation.customer.locale or DEFAULT_LOCALE)}">'
        '<body style="margin:0;background:#f6f7fb;padding:24px 0">'
        '<table role="presentation" align="center" style="background:#fff;border-radius:14px;padding:28px;'
        'font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2433;max-width:560px">'
        f'<tr><td><p>{e(greeting)}</p><p>{e(resolved % {"about": about})}</p>'
        f'<p style="font-size:17px;font-weight:600">{e(question)}</p>'
        f'<table role="presentation"><tr>{buttons}</tr></table>'
        f'<p style="color:#6b7489;font-size:13px">{e(one_click)}</p></td></tr></table></body></html>'
    )
    return subject, text, body


# -- wiring ---------------------------------------------------------------------------------------

def init_app(app: Any, runtime: Runtime) -> None:
    """Called by the tickets room: ask after each resolve, the send job, the widget's submit."""

    def on_updated(session: Session, ev: ConversationUpdated) -> None:
        # In the resolve's own transaction: the survey job exists exactly when the resolve does.
        status = (ev.changes or {}).get("status")
        if not status or status[1] != Status.resolved.value:
            return
        conversation = session.get(Conversation, ev.conversation_id)
        if conversation is not None and conversation.status is Status.resolved:
            request_survey_later(session, conversation)

    runtime.events.subscribe_in_transaction(ConversationUpdated, on_updated)
    runtime.jobs.register(SEND_JOB, send_survey_job)
    # The widget's `csat:submit` (chat room) records its answer through this capability.
    runtime.provide("csat.submit", submit_for_conversation)
