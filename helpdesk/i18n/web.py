"""Flask-Babel for the console: the agent's own choice, else the browser's Accept-Language."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Flask, request
from flask_babel import Babel, get_locale, lazy_gettext
from flask_login import current_user

from helpdesk.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    format_day,
    format_moment,
    format_money,
    format_span,
    format_units,
    format_when,
    language_names,
    supported,
)

babel = Babel()

# The words of the domain's values as the console shows them (pills, tabs, selects, reports).
LABELS = {
    "open": lazy_gettext("open"), "pending": lazy_gettext("pending"), "snoozed": lazy_gettext("snoozed"),
    "resolved": lazy_gettext("resolved"), "low": lazy_gettext("low"), "normal": lazy_gettext("normal"),
    "high": lazy_gettext("high"), "urgent": lazy_gettext("urgent"), "chat": lazy_gettext("chat"),
    "email": lazy_gettext("email"), "phone": lazy_gettext("phone"), "inbound": lazy_gettext("incoming"),
    "outbound": lazy_gettext("outgoing"), "agent": lazy_gettext("agent"), "manager": lazy_gettext("manager"),
    "admin": lazy_gettext("admin"),
    # an email reply's delivery, a job's state
    "sending": lazy_gettext("sending"), "sent": lazy_gettext("sent"), "failed": lazy_gettext("failed"),
    "queued": lazy_gettext("queued"), "running": lazy_gettext("running"), "done": lazy_gettext("done"),
    "dead": lazy_gettext("dead"),
    # an order's payment and fulfilment (the platforms' words, normalised by orders/)
    "paid": lazy_gettext("paid"), "refunded": lazy_gettext("refunded"),
    "partially_refunded": lazy_gettext("partially refunded"), "authorized": lazy_gettext("authorized"),
    "voided": lazy_gettext("voided"), "fulfilled": lazy_gettext("fulfilled"),
    "unfulfilled": lazy_gettext("unfulfilled"), "partial": lazy_gettext("partly shipped"),
    "cancelled": lazy_gettext("cancelled"),
    # an inbound mail's state (admin/mail), a setting shown without its secret
    "received": lazy_gettext("received"), "processed": lazy_gettext("processed"),
    "ignored": lazy_gettext("ignored"), "rejected": lazy_gettext("rejected"),
    "set": lazy_gettext("set"), "not set": lazy_gettext("not set"),
}


def label_of(value: object) -> str:
    """The console's word for a status, priority, channel, call direction or role."""
    key = getattr(value, "value", value)
    return str(LABELS[key]) if isinstance(key, str) and key in LABELS else str(key)


def select_locale() -> str:
    """The agent's language on their profile wins; then the browser's; then English."""
    if getattr(current_user, "is_authenticated", False) and (own := supported(getattr(current_user, "locale", None))):
        return own
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


def current_locale() -> str:
    locale = get_locale()
    return str(locale.language) if locale is not None else DEFAULT_LOCALE


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    babel.init_app(app, locale_selector=select_locale)

    def money(amount: Decimal | float | int | None, currency: str | None = None) -> str:
        return format_money(amount, currency, current_locale())

    def when(value: datetime | None, fmt: str = "medium") -> str:
        return format_when(value, current_locale(), fmt=fmt)

    def day(value: datetime | None, fmt: str = "medium") -> str:
        return format_day(value, current_locale(), fmt)

    def console_strings() -> dict[str, object]:
        from helpdesk.i18n.js import catalogue

        return catalogue(current_locale())

    def moment(value: datetime | None) -> str:
        return format_moment(value, current_locale())

    def span(seconds: float) -> str:
        return format_span(seconds, current_locale())

    def units(parts: list[tuple[int, str]], length: str = "short") -> str:
        return format_units(parts, current_locale(), length)

    app.jinja_env.filters.update(money=money, when=when, day=day, moment=moment, span=span, label_word=label_of)
    globals_: dict[str, Any] = {"current_locale": current_locale, "language_names": language_names,
                                "label_of": label_of, "console_strings": console_strings, "units": units}
    app.jinja_env.globals.update(globals_)
