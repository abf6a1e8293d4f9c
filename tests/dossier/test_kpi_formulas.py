"""The arithmetic of the collection KPIs (F-36) on aggregates: DSO by the simple and the
countback method, CEI, rates, and the months of the countback."""

from datetime import date
from decimal import Decimal

import pytest

from relance_dossier.domain.accounts import DomainError
from relance_dossier.domain.kpis import (
    MonthSales,
    cei,
    check_period,
    countback_months,
    dso_countback,
    dso_simple,
    months_back,
    rate,
)


def test_f36_simple_dso_is_receivables_over_sales_times_days() -> None:
    # 300 owed, 900 sold over 90 days: a third of the period's sales, 30 days.
    assert dso_simple(Decimal(300), Decimal(900), 90) == Decimal("30.0")
    assert dso_simple(Decimal(100), Decimal(0), 90) is None


def test_f36_countback_dso_walks_back_month_by_month() -> None:
    months = [MonthSales(Decimal(400), 31), MonthSales(Decimal(200), 28), MonthSales(Decimal(100), 31)]
    # 500 owed: the last month's 400 (31 days), then 100 of the 200 sold in 28 days (14).
    assert dso_countback(Decimal(500), months) == Decimal("45.0")
    # Less than the last month: a fraction of it.
    assert dso_countback(Decimal(100), months) == Decimal("7.8")
    # More than every month walked: the months walked.
    assert dso_countback(Decimal(1000), months) == Decimal("90.0")
    # A month without sales counts whole.
    assert dso_countback(Decimal(50), [MonthSales(Decimal(0), 30), MonthSales(Decimal(100), 31)]) \
        == Decimal("45.5")
    assert dso_countback(Decimal(0), months) == Decimal(0)


def test_f36_cei_is_collected_over_collectible() -> None:
    # (1000 + 500 − 600) / (1000 + 500 − 200) × 100 = 900 / 1300 = 69.2 %
    assert cei(Decimal(1000), Decimal(500), Decimal(600), Decimal(200)) == Decimal("69.2")
    assert cei(Decimal(0), Decimal(0), Decimal(0), Decimal(0)) is None


def test_f36_rates_in_percent() -> None:
    assert rate(2, 3) == Decimal("66.7")
    assert rate(0, 0) is None


def test_f36_months_back_keep_the_day_or_the_months_last() -> None:
    assert months_back(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_back(date(2026, 1, 15), 1) == date(2025, 12, 15)
    assert months_back(date(2024, 3, 31), 1) == date(2024, 2, 29)
    assert months_back(date(2026, 6, 30), 1) == date(2026, 5, 31)
    assert months_back(date(2026, 2, 28), 1) == date(2026, 1, 31)


def test_f36_countback_months_are_contiguous_and_end_at_the_period_end() -> None:
    months = countback_months(date(2026, 3, 31), 3)
    assert months == [(date(2026, 3, 1), date(2026, 3, 31)), (date(2026, 2, 1), date(2026, 2, 28)),
                      (date(2026, 1, 1), date(2026, 1, 31))]
    mid = countback_months(date(2026, 3, 15), 2)
    assert mid == [(date(2026, 2, 16), date(2026, 3, 15)), (date(2026, 1, 16), date(2026, 2, 15))]


def test_f36_a_period_runs_forward_and_ends_by_the_as_of_date() -> None:
    assert check_period(date(2026, 1, 1), date(2026, 3, 31), date(2026, 4, 1)).days == 90
    with pytest.raises(DomainError) as backwards:
        check_period(date(2026, 2, 1), date(2026, 1, 1), date(2026, 4, 1))
    assert backwards.value.field == "from"
    with pytest.raises(DomainError) as late:
        check_period(date(2026, 1, 1), date(2026, 5, 1), date(2026, 4, 1))
    assert late.value.field == "to"
