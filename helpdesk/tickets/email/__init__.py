"""The email channel: inbound transports feeding one ingestion path, threading, outbound replies.

`TRANSPORTS` is the registry of ways mail comes in: a new one is one module plus one line here.
Entries are import paths so that importing the models does not drag Flask or aiosmtpd along.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

TRANSPORTS: dict[str, str] = {
    "raw": "helpdesk.tickets.email.webhooks:RawTransport",
    "mailgun": "helpdesk.tickets.email.webhooks:MailgunTransport",
    "sendgrid": "helpdesk.tickets.email.webhooks:SendGridTransport",
    "postmark": "helpdesk.tickets.email.webhooks:PostmarkTransport",
    "smtp": "helpdesk.tickets.email.smtpd:InboundSMTP",
    "imap": "helpdesk.tickets.email.imap:ImapFetcher",
}


def transport(name: str) -> Any:
    module, _, attr = TRANSPORTS[name].partition(":")
    return getattr(import_module(module), attr)


def init_app(app: Any, runtime: Any) -> None:
    """Wire the email room into an app: webhooks, admin pages, the console's email view, the
    outbound planning listener and the email jobs."""
    from helpdesk.extensions import csrf
    from helpdesk.tickets.csat import SurveyRequested
    from helpdesk.tickets.email import housekeeping, imap, outbound, survey, views, webhooks
    from helpdesk.tickets.events import MessagePosted

    app.register_blueprint(webhooks.bp)
    csrf.exempt(webhooks.bp)  # authenticated by token or signature, never by cookie
    app.register_blueprint(views.bp)
    # The conversation page (tickets/) shows an email message through this per-message panel.
    runtime.panels.add("conversation.message", "email", views.render_email)
    # Inside the committing transaction: the send job exists exactly when the message does.
    runtime.events.subscribe_in_transaction(
        MessagePosted,
        lambda session, ev: outbound.plan_posted(session, ev, outbound.OutboundSettings.from_config(runtime.settings)))
    runtime.events.subscribe_in_transaction(SurveyRequested, survey.plan_survey_mail)
    runtime.jobs.register(outbound.SEND_JOB, outbound.send_message_job)
    runtime.jobs.register(outbound.ACK_JOB, outbound.acknowledge_job)
    runtime.jobs.register(imap.POLL_JOB, imap.poll_job)
    runtime.jobs.register(survey.SURVEY_JOB, survey.send_survey_mail)
    runtime.jobs.periodic("email.housekeeping", housekeeping.EVERY_SECONDS, housekeeping.housekeeping)
