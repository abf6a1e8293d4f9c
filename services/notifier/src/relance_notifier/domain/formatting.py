"""French formatting of amounts, dates and account statements (F-18).

Amounts are written the French way: groups of three digits separated by a no-break space,
a decimal comma, and the currency after a no-break space ("1 234,50 €"). No-break spaces
keep an amount on one line when a mail client wraps the text."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

NBSP = "\u00a0"
CURRENCY_SYMBOLS: Mapping[str, str] = {"EUR": "€"}
DEFAULT_CURRENCY = "EUR"
_CENT = Decimal("0.01")


def format_amount(amount: Decimal | int | str, currency: str = DEFAULT_CURRENCY) -> str:
    """`Decimal("1234.5")` → "1 234,50 €"; other currencies keep their ISO code."""
    value = Decimal(amount).quantize(_CENT, rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    integer, _, cents = f"{abs(value):.2f}".partition(".")
    groups: list[str] = []
    while len(integer) > 3:
        groups.insert(0, integer[-3:])
        integer = integer[:-3]
    groups.insert(0, integer)
    code = currency.strip().upper() or DEFAULT_CURRENCY
    symbol = CURRENCY_SYMBOLS.get(code, code)
    return f"{sign}{NBSP.join(groups)},{cents}{NBSP}{symbol}"


def format_date(value: date) -> str:
    """dd/mm/yyyy."""
    return value.strftime("%d/%m/%Y")


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
        code = line.currency.strip().upper() or DEFAULT_CURRENCY
        totals[code] = totals.get(code, Decimal("0")) + Decimal(line.open_amount)
    return totals


def format_total(lines: Iterable[StatementLine]) -> str:
    """The sum of the open amounts ("1 234,50 €"); amounts in several currencies are
    never added together: "1 000,00 € + 50,00 USD". No lines: "0,00 €"."""
    totals = totals_by_currency(lines)
    if not totals:
        return format_amount(Decimal("0"), DEFAULT_CURRENCY)
    return " + ".join(format_amount(total, code) for code, total in totals.items())


STATEMENT_HEADERS = ("N° de pièce", "Échéance", "Montant dû")
STATEMENT_TOTAL = "Total"


def format_statement(lines: Iterable[StatementLine]) -> str:
    """A plain-text account statement: one row per item (number, due date, open amount),
    sorted by due date, then a total row. Columns are aligned for a monospace reading."""
    rows = sorted(lines, key=lambda line: (line.due_date, line.number))
    table = [
        (line.number, format_date(line.due_date), format_amount(line.open_amount, line.currency))
        for line in rows
    ]
    total = (STATEMENT_TOTAL, "", format_total(rows))
    widths = [
        max(len(row[col]) for row in (STATEMENT_HEADERS, *table, total)) for col in range(3)
    ]

    def render(row: tuple[str, str, str]) -> str:
        return (
            f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2].rjust(widths[2])}"
        ).rstrip()

    return "\n".join([render(STATEMENT_HEADERS), *(render(row) for row in table), render(total)])
