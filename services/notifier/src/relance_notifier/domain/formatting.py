"""Amounts, dates and account statements in the reader's locale (F-18), written by Babel
from the CLDR data.

French (the default, `fr_FR`): groups of three digits separated by a no-break space, a
decimal comma, and the currency after a no-break space ("1 234,50 €"); dates dd/mm/yyyy.
Other locales follow their own conventions ("€1,234.50" and 1/5/2025 in `en_US`). No-break
spaces keep an amount on one line when a mail client wraps the text; CLDR's narrow
no-break space (U+202F) is written as a plain no-break space, which every font of a
printed letter has. The euro is written as its symbol; other currencies keep their ISO
code ("50,00 USD"), never a symbol a reader could mistake ("$" for which dollar?)."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import cast

from babel import Locale, UnknownLocaleError
from babel.dates import DateTimePattern, format_datetime, match_skeleton
from babel.numbers import format_currency, get_currency_precision

NBSP = "\u00a0"
NARROW_NBSP = "\u202f"
DEFAULT_CURRENCY = "EUR"
DEFAULT_LOCALE = "fr_FR"
# Currencies written with their symbol; any other keeps its ISO code.
SYMBOL_CURRENCIES = frozenset({"EUR"})


@lru_cache(maxsize=64)
def babel_locale(tag: str | None) -> Locale:
    """`fr`, `fr_FR` or `fr-FR` → the Babel locale; an unknown or malformed tag falls back
    to French (a communication is never refused for its locale)."""
    try:
        return Locale.parse((tag or DEFAULT_LOCALE).replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LOCALE)


@lru_cache(maxsize=256)
def _currency_pattern(locale: Locale, code: str) -> str:
    pattern: str = locale.currency_formats["standard"].pattern
    if code in SYMBOL_CURRENCIES:
        return pattern
    # `¤¤` is the ISO code; a code touching the digits gets a no-break space, as CLDR's
    # currency spacing asks ("USD 50.00", not "USD50.00").
    pattern = pattern.replace("¤", "¤¤")
    pattern = re.sub(r"¤¤(?=[#0-9-])", "¤¤" + NBSP, pattern)
    return re.sub(r"(?<=[#0-9])¤¤", NBSP + "¤¤", pattern)


def _currency_code(currency: str) -> str:
    return currency.strip().upper() or DEFAULT_CURRENCY


def format_amount(
    amount: Decimal | int | str, currency: str = DEFAULT_CURRENCY, locale: str | None = DEFAULT_LOCALE
) -> str:
    """`Decimal("1234.5")` → "1 234,50 €" (fr_FR); rounded half up to the currency's
    digits, as on an invoice."""
    code = _currency_code(currency)
    digits = get_currency_precision(code)
    value = Decimal(amount).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    where = babel_locale(locale)
    text = format_currency(value, code, _currency_pattern(where, code), locale=where)
    return text.replace(NARROW_NBSP, NBSP)


DATE_SKELETON = "yMMdd"


@lru_cache(maxsize=64)
def _date_pattern(locale: Locale) -> DateTimePattern:
    """The locale's pattern for DATE_SKELETON, resolved once: matching a skeleton against
    the CLDR list is what `format_skeleton` does on every call, and it cost a morning batch
    more than the rest of the rendering (ten dates per email)."""
    skeletons = locale.datetime_skeletons
    skeleton = DATE_SKELETON
    if skeleton not in skeletons:
        skeleton = match_skeleton(skeleton, skeletons) or skeleton
    pattern: DateTimePattern = skeletons[skeleton]
    return pattern


def format_date(value: date, locale: str | None = DEFAULT_LOCALE) -> str:
    """Day, month and year in figures: 05/01/2025 (fr_FR), 1/5/2025 (en_US)."""
    where = babel_locale(locale)
    # Babel takes a parsed pattern as well as its text (its annotation says text only);
    # the text would be parsed again on every call.
    pattern = cast(str, _date_pattern(where))
    return format_datetime(value, pattern, locale=where).replace(NARROW_NBSP, NBSP)


@dataclass(frozen=True)
class StatementLine:
    number: str
    due_date: date
    open_amount: Decimal
    currency: str = DEFAULT_CURRENCY


def totals_by_currency(lines: Iterable[StatementLine]) -> dict[str, Decimal]:
    """Open amounts summed per currency, in order of first appearance."""
    totals: dict[str, Decimal] = {}
    for line in lines:
        code = _currency_code(line.currency)
        totals[code] = totals.get(code, Decimal("0")) + Decimal(line.open_amount)
    return totals


def format_total(lines: Iterable[StatementLine], locale: str | None = DEFAULT_LOCALE) -> str:
    """The sum of the open amounts ("1 234,50 €"); amounts in several currencies are
    never added together: "1 000,00 € + 50,00 USD". No lines: "0,00 €"."""
    totals = totals_by_currency(lines)
    if not totals:
        return format_amount(Decimal("0"), DEFAULT_CURRENCY, locale)
    return " + ".join(format_amount(total, code, locale) for code, total in totals.items())


@dataclass(frozen=True)
class LateFeeLine:
    """F-38: the late-payment interest and recovery indemnity owed in one currency."""

    currency: str
    interest: Decimal
    indemnity: Decimal


def format_amounts(amounts: Mapping[str, Decimal], locale: str | None = DEFAULT_LOCALE) -> str:
    """Amounts per currency, the non-zero ones, never added across currencies
    ("12,34 € + 5,00 USD"); none: "0,00 €"."""
    shown = [(code, amount) for code, amount in amounts.items() if Decimal(amount) != 0]
    if not shown:
        return format_amount(Decimal("0"), DEFAULT_CURRENCY, locale)
    return " + ".join(format_amount(amount, code, locale) for code, amount in shown)


# The statement's column headers and total row, by language; French for any other.
STATEMENT_WORDS: Mapping[str, tuple[tuple[str, str, str], str]] = {
    "fr": (("N° de pièce", "Échéance", "Montant dû"), "Total"),
    "en": (("Document no.", "Due date", "Amount due"), "Total"),
}
STATEMENT_HEADERS, STATEMENT_TOTAL = STATEMENT_WORDS["fr"]


def format_statement(lines: Iterable[StatementLine], locale: str | None = DEFAULT_LOCALE) -> str:
    """A plain-text account statement: one row per item (number, due date, open amount),
    sorted by due date, then a total row. Columns are aligned for a monospace reading."""
    headers, total_word = STATEMENT_WORDS.get(babel_locale(locale).language, STATEMENT_WORDS["fr"])
    rows = sorted(lines, key=lambda line: (line.due_date, line.number))
    table = [
        (line.number, format_date(line.due_date, locale),
         format_amount(line.open_amount, line.currency, locale))
        for line in rows
    ]
    total = (total_word, "", format_total(rows, locale))
    widths = [
        max(len(row[col]) for row in (headers, *table, total)) for col in range(3)
    ]

    def render(row: tuple[str, str, str]) -> str:
        return (
            f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2].rjust(widths[2])}"
        ).rstrip()

    return "\n".join([render(headers), *(render(row) for row in table), render(total)])
