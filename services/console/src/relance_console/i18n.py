"""French and English (F-35, F-39): gettext catalogs under `locale/` (French by default,
switched per user with a cookie), and amounts and dates formatted by Babel for the locale."""

from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

LOCALES = ("fr", "en")
LOCALE_DIR = Path(__file__).parent / "locale"
LANG_COOKIE = "relance_lang"

current_locale: ContextVar[str] = ContextVar("current_locale", default="fr")
current_timezone: ContextVar[str] = ContextVar("current_timezone", default="Europe/Paris")

_catalogs: dict[str, NullTranslations] = {}


def catalog(locale: str) -> NullTranslations:
    if locale not in _catalogs:
        # English is the msgid language; French comes from the compiled catalog.
        _catalogs[locale] = Translations.load(str(LOCALE_DIR), [locale], domain="messages")
    return _catalogs[locale]


def gettext(message: str) -> str:
    return catalog(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalog(current_locale.get()).ngettext(singular, plural, n)


def pick_locale(cookie: str | None, accept_language: str | None, default: str) -> str:
    if cookie in LOCALES:
        return cookie
    return default


def money(amount, currency: str = "EUR") -> str:
    if amount is None or amount == "":
        return ""
    return format_currency(Decimal(str(amount)), currency, locale=current_locale.get())


def number(value) -> str:
    return format_decimal(value, locale=current_locale.get())


def _parse(value):
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    return value


def day(value) -> str:
    value = _parse(value)
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(current_timezone.get())).date()
    return format_date(value, format="medium", locale=current_locale.get())


def moment(value) -> str:
    value = _parse(value)
    if value is None or isinstance(value, str):
        return value or ""
    if not isinstance(value, datetime):
        return day(value)
    return format_datetime(value, format="short", tzinfo=ZoneInfo(current_timezone.get()),
                           locale=current_locale.get())
