"""Collection KPIs (F-36): the arithmetic done on the aggregates the database computed.

Every sum over items, payments, promises and transfers is made in SQL
(`persistence.kpis`); what is left here is the formula applied to those sums, pure and
tested on its own. The formulas are documented in docs/kpis.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from relance_dossier.domain.accounts import DomainError

# How far the countback walks back before it stops (receivables older than this count
# as this many months of sales).
COUNTBACK_MONTHS = 24
DEFAULT_PERIOD_DAYS = 90
ONE_DAY = Decimal("0.1")
PERCENT = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> int:
        """Both ends included: 1 January to 31 March is 90 days."""
        return (self.end - self.start).days + 1


def check_period(start: date, end: date, as_of: date) -> Period:
    """F-36: a period runs forward and ends no later than the as-of date."""
    if start > end:
        raise DomainError("from", f"the period starts ({start}) after it ends ({end})")
    if end > as_of:
        raise DomainError("to", f"the period ends ({end}) after the as-of date ({as_of})")
    return Period(start, end)


def _round(value: Decimal, quantum: Decimal) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def dso_simple(receivables: Decimal, credit_sales: Decimal, period_days: int) -> Decimal | None:
    """DSO, simple method: receivables at the end of the period ÷ credit sales of the
    period × days of the period; none when nothing was sold."""
    if credit_sales <= 0:
        return None
    return _round(receivables / credit_sales * period_days, ONE_DAY)


@dataclass(frozen=True, slots=True)
class MonthSales:
    """Invoiced sales of one month of the countback, the most recent first; `days` is
    the month's length (the first one may be partial: it ends at the period's end)."""

    sales: Decimal
    days: int


def months_back(day: date, months: int) -> date:
    """The same day `months` months earlier, or the last day of that month when it is
    shorter (31 March − 1 month = 28 or 29 February); a month's last day gives the last
    day of the other month (30 June − 1 month = 31 May), so a period ending on a month's
    end walks back calendar months."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    last_day = _days_in_month(year, month)
    if day.day == _days_in_month(day.year, day.month):
        return date(year, month, last_day)
    return date(year, month, min(day.day, last_day))


def _days_in_month(year: int, month: int) -> int:
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    return (next_month - date(year, month, 1)).days


def countback_months(end: date, count: int = COUNTBACK_MONTHS) -> list[tuple[date, date]]:
    """The months of the countback as (first day, last day), the most recent first:
    the first one ends at `end`, each one starts the day after the same day a month
    earlier."""
    bounds = []
    for k in range(count):
        last = months_back(end, k)
        first = months_back(end, k + 1) + timedelta(days=1)
        bounds.append((first, last))
    return bounds


def dso_countback(receivables: Decimal, months: Sequence[MonthSales]) -> Decimal | None:
    """DSO, countback method: walk back month by month from the end of the period; a
    month whose sales the remaining receivables cover counts all its days and its sales
    are taken off; the month that exhausts them counts the fraction remaining ÷ sales of
    its days. Receivables older than the months walked count as the months walked."""
    if receivables <= 0:
        return Decimal(0) if months else None
    remaining, days = receivables, Decimal(0)
    for month in months:
        if month.sales <= 0:
            days += month.days
            continue
        if remaining <= month.sales:
            return _round(days + remaining / month.sales * month.days, ONE_DAY)
        remaining -= month.sales
        days += month.days
    return _round(days, ONE_DAY) if months else None


def cei(opening: Decimal, credit_sales: Decimal, closing: Decimal,
        closing_current: Decimal) -> Decimal | None:
    """Collection effectiveness index, in percent: (opening receivables + credit sales −
    closing receivables) ÷ (opening receivables + credit sales − closing current
    receivables) × 100; none when there was nothing to collect."""
    collectible = opening + credit_sales - closing_current
    if collectible <= 0:
        return None
    return _round((opening + credit_sales - closing) / collectible * 100, PERCENT)


def rate(part: int, whole: int) -> Decimal | None:
    """A share in percent, one decimal; none of nothing."""
    if whole <= 0:
        return None
    return _round(Decimal(part) / Decimal(whole) * 100, PERCENT)
