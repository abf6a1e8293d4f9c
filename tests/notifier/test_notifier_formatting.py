"""French formatting of amounts, dates and account statements (F-18)."""

from datetime import date
from decimal import Decimal

import pytest

from relance_notifier.domain.formatting import (
    NBSP,
    StatementLine,
    format_amount,
    format_date,
    format_statement,
    format_total,
)


def plain(text: str) -> str:
    """The same text with no-break spaces shown as spaces."""
    return text.replace(NBSP, " ")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("1234.5"), "1 234,50 €"),
        (Decimal("0"), "0,00 €"),
        (Decimal("12"), "12,00 €"),
        (Decimal("999.99"), "999,99 €"),
        (Decimal("1000"), "1 000,00 €"),
        (Decimal("1234567.891"), "1 234 567,89 €"),
        (Decimal("-1234.5"), "-1 234,50 €"),
        (Decimal("0.005"), "0,01 €"),  # half up, as on an invoice
    ],
)
def test_f18_amount_is_written_the_french_way(amount: Decimal, expected: str) -> None:
    assert plain(format_amount(amount)) == expected


def test_f18_amount_uses_no_break_spaces_so_it_never_wraps() -> None:
    assert format_amount(Decimal("1234.5")) == f"1{NBSP}234,50{NBSP}€"
    assert " " not in format_amount(Decimal("1234567.5"))


def test_f18_other_currencies_keep_their_code() -> None:
    assert plain(format_amount(Decimal("50"), "usd")) == "50,00 USD"


def test_f18_date_is_dd_mm_yyyy() -> None:
    assert format_date(date(2025, 1, 5)) == "05/01/2025"


def test_f18_total_sums_open_amounts() -> None:
    lines = [
        StatementLine("FA-1", date(2025, 1, 10), Decimal("1000.25")),
        StatementLine("FA-2", date(2025, 2, 10), Decimal("234.25")),
        StatementLine("AV-1", date(2025, 2, 12), Decimal("-100")),
    ]
    assert plain(format_total(lines)) == "1 134,50 €"


def test_f18_total_never_adds_different_currencies() -> None:
    lines = [
        StatementLine("FA-1", date(2025, 1, 10), Decimal("1000"), "EUR"),
        StatementLine("FA-2", date(2025, 1, 11), Decimal("50"), "USD"),
        StatementLine("FA-3", date(2025, 1, 12), Decimal("1"), "EUR"),
    ]
    assert plain(format_total(lines)) == "1 001,00 € + 50,00 USD"


def test_f18_total_of_nothing_is_zero_euro() -> None:
    assert plain(format_total([])) == "0,00 €"


def test_f18_statement_lists_each_item_by_due_date_then_a_total() -> None:
    lines = [
        StatementLine("FA-2024-002", date(2025, 2, 15), Decimal("234.25")),
        StatementLine("FA-2024-001", date(2025, 1, 15), Decimal("1000.25")),
    ]
    statement = plain(format_statement(lines)).splitlines()
    assert statement == [
        "N° de pièce  Échéance    Montant dû",
        "FA-2024-001  15/01/2025  1 000,25 €",
        "FA-2024-002  15/02/2025    234,25 €",
        "Total                    1 234,50 €",
    ]


def test_f18_statement_of_no_item_has_a_zero_total() -> None:
    statement = plain(format_statement([])).splitlines()
    assert statement[-1].startswith("Total") and statement[-1].endswith("0,00 €")


@pytest.mark.parametrize(
    ("locale", "amount", "currency", "expected"),
    [
        ("fr", Decimal("1234.5"), "EUR", "1 234,50 €"),
        ("fr-FR", Decimal("1234.5"), "EUR", "1 234,50 €"),
        ("en_US", Decimal("1234.5"), "EUR", "€1,234.50"),
        ("en_US", Decimal("-1234.5"), "EUR", "-€1,234.50"),
        ("en_US", Decimal("50"), "USD", "USD 50.00"),
        ("de_DE", Decimal("1234567.891"), "EUR", "1.234.567,89 €"),
        ("de-DE", Decimal("50"), "usd", "50,00 USD"),
        ("nl_BE", Decimal("1234.5"), "EUR", "€ 1.234,50"),
        ("nl_BE", Decimal("50"), "USD", "USD 50,00"),
        ("fr", Decimal("1234.5"), "JPY", "1 235 JPY"),  # a currency without cents
    ],
)
def test_f18_amounts_follow_the_readers_locale(locale: str, amount: Decimal, currency: str, expected: str) -> None:
    assert plain(format_amount(amount, currency, locale)) == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("fr_FR", "05/01/2025"), ("en_US", "1/5/2025"), ("en_GB", "05/01/2025"), ("de_DE", "05.01.2025")],
)
def test_f18_dates_follow_the_readers_locale(locale: str, expected: str) -> None:
    assert format_date(date(2025, 1, 5), locale) == expected


def test_f18_an_unknown_locale_is_written_in_french() -> None:
    assert plain(format_amount(Decimal("1234.5"), "EUR", "xx_YY")) == "1 234,50 €"
    assert format_date(date(2025, 1, 5), "not a locale") == "05/01/2025"


def test_f18_statement_in_english() -> None:
    lines = [StatementLine("INV-1", date(2025, 1, 15), Decimal("1000.25"))]
    assert plain(format_statement(lines, "en_GB")).splitlines() == [
        "Document no.  Due date    Amount due",
        "INV-1         15/01/2025   €1,000.25",
        "Total                      €1,000.25",
    ]
