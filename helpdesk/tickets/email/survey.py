"""The CSAT survey mail of an email conversation: written as a job in the survey's own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.tickets.csat import SURVEY_CREATED_HOOKS, survey_email
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.email.outbound import TransientSMTP, build_mail, send, settings_of
from helpdesk.tickets.email.threading import make_message_id
from helpdesk.tickets.models import Channel

SURVEY_JOB = "email.csat_survey"


def plan_survey_mail(session: Session, survey: CsatSurvey) -> None:
    """Email conversations are asked by mail (chat shoppers are asked in the widget)."""
    conversation = survey.conversation
    if conversation.channel is Channel.email and conversation.customer.email:
        jobs.enqueue(session, SURVEY_JOB, {"survey_id": survey.id}, dedupe_key=f"csat-mail:{survey.id}")


@jobs.handler(SURVEY_JOB)
def send_survey_mail(session: Session, payload: dict[str, Any]) -> None:
    survey = session.get(CsatSurvey, int(payload["survey_id"]))
    if survey is None or survey.answered_at is not None:
        return  # answered already (e.g. in the widget) or gone: nothing to ask
    settings = settings_of(session)
    conversation = survey.conversation
    subject, text, html = survey_email(survey)
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


if plan_survey_mail not in SURVEY_CREATED_HOOKS:
    SURVEY_CREATED_HOOKS.append(plan_survey_mail)
