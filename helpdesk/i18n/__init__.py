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
from babel import units as babel_units
from babel.support import NullTranslations, Translations

# The languages with a full catalogue; the first is the fallback and the language of the msgids.
LOCALES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl", "pt", "pl")
DEFAULT_LOCALE = "en"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; translated where it is shown."""
    return message


def Np_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a plural message (scripts/i18n extracts it with `-k Np_:1,2`); ngettext where shown."""
    return singular, plural


def format_units(parts: list[tuple[int, str]], locale: str, length: str = "narrow") -> str:
    """"5d 16h" / "5 T 16h": amounts of CLDR duration units (day, hour, minute) in the locale's words."""
    return " ".join(babel_units.format_unit(value, f"duration-{unit}", length=length, locale=_locale(locale))
                    for value, unit in parts)


def format_span(seconds: float, locale: str) -> str:
    """An SLA countdown in two units at most: "5d 16h", "2h 5m", "7m" (narrow, as the queue badge)."""
    minutes = max(0, int(seconds // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return format_units([(days, "day"), (hours, "hour")], locale)
    if hours:
        return format_units([(hours, "hour"), (minutes, "minute")], locale)
    return format_units([(minutes, "minute")], locale)


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


def format_moment(value: datetime | None, locale: str, *, timezone: str = "UTC") -> str:
    """"Thu, Dec 3, 2026, 09:30" / "Do., 3. Dez. 2026, 09:30": a day with its weekday and a 24-hour time."""
    if value is None:
        return ""
    zone = babel_dates.get_timezone(timezone)
    day = babel_dates.format_skeleton("yMMMEd", value, tzinfo=zone, locale=_locale(locale))
    return f"{day}, {babel_dates.format_skeleton('Hm', value, tzinfo=zone, locale=_locale(locale))}"


def format_day(value: datetime | None, locale: str, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return babel_dates.format_date(value, format=fmt, locale=_locale(locale))


def _locale(code: str) -> str:
    return supported(code) or DEFAULT_LOCALE
