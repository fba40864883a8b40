"""The CSAT survey mail of an email conversation: written as a job in the survey's own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.runtime import JobContext
from helpdesk.tickets.csat import SurveyRequested, survey_email
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.email.outbound import OutboundSettings, TransientSMTP, build_mail, send
from helpdesk.tickets.email.threading import make_message_id
from helpdesk.tickets.models import Channel

SURVEY_JOB = "email.csat_survey"


def plan_survey_mail(session: Session, ev: SurveyRequested) -> None:
    """In-transaction listener of SurveyRequested: email conversations are asked by mail (chat
    shoppers are asked in the widget); the job is written in the survey's own transaction."""
    survey = session.get(CsatSurvey, ev.survey_id)
    if survey is None:
        return
    conversation = survey.conversation
    if conversation.channel is Channel.email and conversation.customer.email:
        jobs.enqueue(session, SURVEY_JOB, {"survey_id": survey.id}, dedupe_key=f"csat-mail:{survey.id}")


def send_survey_mail(ctx: JobContext, payload: dict[str, Any]) -> None:
    settings = OutboundSettings.from_config(ctx.settings)
    with ctx.db.unit_of_work() as session:
        survey = session.get(CsatSurvey, int(payload["survey_id"]))
        if survey is None or survey.answered_at is not None:
            return  # answered already (e.g. in the widget) or gone: nothing to ask
        conversation = survey.conversation
        subject, text, html = survey_email(survey, secret_key=str(ctx.settings["SECRET_KEY"]),
                                           base_url=str(ctx.settings.get("BASE_URL") or ""))
        mail = build_mail(conversation, body_text=text, body_html=html, subject=subject,
                          author=conversation.inbox.name, settings=settings, automatic=True,
                          message_id=make_message_id(settings.secret, settings.domain, conversation.public_id,
                                                     f"csat{survey.id}"),
                          before_seq=conversation.last_seq + 1)
        session.rollback()  # no transaction (SQLite: no write lock) held while the SMTP server talks
        try:
            send(mail, settings.smtp_url)
        except TransientSMTP as exc:
            raise jobs.RetryLater(60, str(exc)) from None
