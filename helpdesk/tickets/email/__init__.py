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


def init_app(app: Any) -> None:
    """Wire the email room into an app: webhooks, admin pages, console rendering, outbound hook."""
    from helpdesk.extensions import csrf
    from helpdesk.tickets.email import (  # noqa: F401 - survey and housekeeping register jobs
        housekeeping,
        imap,
        ingest,
        outbound,
        survey,
        views,
        webhooks,
    )

    app.register_blueprint(webhooks.bp)
    csrf.exempt(webhooks.bp)  # authenticated by token or signature, never by cookie
    app.register_blueprint(views.bp)
    views.register_template_helpers(app)
    database = app.extensions["helpdesk.db"]
    outbound.configure(outbound.OutboundSettings.from_config(app.config), database.sessions)
    imap.configure(database, ingest.MailSettings.from_config(app.config), app.config["IMAP_POLL_SECONDS"])
