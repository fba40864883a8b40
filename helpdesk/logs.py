"""Secrets never reach a log line: access logs (gevent, geventwebsocket, werkzeug) print request
lines, and an ingest token or a signed link in the query string would sit in every log archive."""

from __future__ import annotations

import logging
import re

# Query parameters that authenticate: the ingest token (?token=), widget links (?sig=), anything
# called a key, secret or password.
SECRET_PARAM = re.compile(r"([?&;](?:token|access_token|sig|signature|key|api_key|secret|password)=)[^&\s\"']*",
                          re.IGNORECASE)
ACCESS_LOGGERS = ("geventwebsocket.handler", "gevent", "werkzeug", "engineio.server", "socketio.server")


def redact(text: str) -> str:
    return SECRET_PARAM.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# Chatty at INFO and of no use to someone reading the terminal: Alembic's plugin and migration lines
# on every start, and one access line per request. They bury the banner with the URLs and logins.
QUIET_LOGGERS = ("alembic",)


def quiet(access_log: bool) -> None:
    """Alembic at WARNING always; the access loggers at WARNING unless HELPDESK_ACCESS_LOG is on."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ACCESS_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if access_log else logging.WARNING)


def install() -> None:
    """On the access loggers and every root handler; idempotent (create_app runs per test app)."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in ACCESS_LOGGERS]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())
