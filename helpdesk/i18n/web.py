"""Flask-Babel for the console: the agent's own choice, else the browser's Accept-Language."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Flask, request
from flask_babel import Babel, get_locale
from flask_login import current_user

from helpdesk.i18n import DEFAULT_LOCALE, LOCALES, format_day, format_money, format_when, language_names, supported

babel = Babel()


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

    app.jinja_env.filters.update(money=money, when=when, day=day)
    globals_: dict[str, Any] = {"current_locale": current_locale, "language_names": language_names}
    app.jinja_env.globals.update(globals_)
