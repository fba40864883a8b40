"""Languages: the catalogues, and formatting of dates and money per locale.

Pure of Flask (Babel only), so services and worker jobs (survey and acknowledgement mails) can
speak a customer's language; helpdesk/i18n/web.py wires Flask-Babel for the console.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.support import NullTranslations, Translations

# The languages with a full catalogue; the first is the fallback and the language of the msgids.
LOCALES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl", "pt", "pl")
DEFAULT_LOCALE = "en"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; translated where it is shown."""
    return message


def language_names() -> list[tuple[str, str]]:
    """(code, the language's own name) for the profile's picker."""
    return [(code, Locale.parse(code).get_display_name(code).capitalize()) for code in LOCALES]


def supported(value: str | None) -> str | None:
    """The supported locale a tag such as 'de-AT' or 'pt_BR' stands for, or None."""
    if not value or not isinstance(value, str):
        return None
    base = value.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LOCALES else None


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of `locale` (the msgids themselves for English or an unknown one)."""
    code = supported(locale) or DEFAULT_LOCALE
    if code == DEFAULT_LOCALE:
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [code])


def gettext(locale: str, message: str, **variables: object) -> str:
    text = translations(locale).gettext(message)
    return text % variables if variables else text


def format_money(amount: Decimal | float | int | str | None, currency: str | None, locale: str) -> str:
    if amount is None:
        return ""
    try:
        value = Decimal(str(amount))
    except ArithmeticError:
        return str(amount)
    if not currency:
        return babel_numbers.format_decimal(value, format="#,##0.00", locale=_locale(locale))
    try:
        return babel_numbers.format_currency(value, currency.upper(), locale=_locale(locale))
    except (UnknownLocaleError, ValueError):
        return f"{value:.2f} {currency}"


def format_when(value: datetime | None, locale: str, *, timezone: str = "UTC", fmt: str = "medium") -> str:
    if value is None:
        return ""
    return babel_dates.format_datetime(value, format=fmt, tzinfo=babel_dates.get_timezone(timezone),
                                       locale=_locale(locale))


def format_day(value: datetime | None, locale: str, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return babel_dates.format_date(value, format=fmt, locale=_locale(locale))


def _locale(code: str) -> str:
    return supported(code) or DEFAULT_LOCALE
