"""The pure rules of payment plans and holds (F-37): what a plan may cover, how its
instalments add up, and when a held step falls due."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from relance_dossier.domain.accounts import DomainError
from relance_dossier.domain.payment_plans import (
    Instalment,
    PlanItem,
    check_hold,
    check_instalments,
    check_plan_items,
    postponed_by_hold,
)

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2026, 12, 2)


def item(number="F-1", open_amount="100.00", currency="EUR", kind="invoice",
         in_active_dossier=True, in_plan=False) -> PlanItem:
    return PlanItem(number=number, kind=kind, open_amount=Decimal(open_amount), currency=currency,
                    in_active_dossier=in_active_dossier, in_plan=in_plan)


def test_f37_a_plan_covers_the_open_amount_of_its_items_in_their_currency() -> None:
    assert check_plan_items([item("F-1", "100.00"), item("F-2", "250.50")]) == (
        "EUR", Decimal("350.50"))


@pytest.mark.parametrize(("items", "reason"), [
    ([], "at least one"),
    ([item(in_active_dossier=False)], "transferred to an agency: F-1"),
    ([item(kind="credit_note")], "not invoices: F-1"),
    ([item(open_amount="0.00")], "settled: F-1"),
    ([item(in_plan=True)], "already in an active payment plan: F-1"),
    ([item("F-1"), item("F-2", currency="USD")], "one currency"),
])
def test_f37_items_a_plan_may_not_cover(items, reason) -> None:
    with pytest.raises(DomainError) as refused:
        check_plan_items(items)
    assert refused.value.field == "item_ids" and reason in refused.value.reason


def plan(*instalments: tuple[int, str]) -> list[Instalment]:
    return [Instalment(due_date=TODAY + timedelta(days=d), amount=Decimal(a)) for d, a in instalments]


def test_f37_instalments_dated_from_today_adding_up_are_accepted() -> None:
    check_instalments(plan((0, "100.00"), (30, "200.00")), Decimal("300.00"), "EUR", TODAY)


@pytest.mark.parametrize(("instalments", "field"), [
    (plan(), "instalments"),
    (plan((-1, "300.00")), "instalments.0.due_date"),
    (plan((5, "150.00"), (5, "150.00")), "instalments.1.due_date"),
    (plan((9, "150.00"), (5, "150.00")), "instalments.1.due_date"),
    (plan((5, "0.00"), (9, "300.00")), "instalments.0.amount"),
    (plan((5, "100.001"), (9, "199.999")), "instalments.0.amount"),
    (plan((5, "100.00"), (9, "100.00")), "instalments"),
])
def test_f37_bad_instalments_name_their_field(instalments, field) -> None:
    with pytest.raises(DomainError) as refused:
        check_instalments(instalments, Decimal("300.00"), "EUR", TODAY)
    assert refused.value.field == field


def test_f37_a_hold_ends_after_today() -> None:
    check_hold(TODAY + timedelta(days=1), TODAY)
    with pytest.raises(DomainError) as refused:
        check_hold(TODAY, TODAY)
    assert refused.value.field == "until"


def test_f37_a_step_due_during_a_hold_is_postponed_to_its_end_not_one_due_after() -> None:
    due = datetime.combine(TODAY + timedelta(days=3), time(8), PARIS)
    until = TODAY + timedelta(days=10)
    assert postponed_by_hold(due, until, "Europe/Paris", 8) == datetime.combine(until, time(8), PARIS)
    later = datetime.combine(TODAY + timedelta(days=20), time(8), PARIS)
    assert postponed_by_hold(later, until, "Europe/Paris", 8) == later
    assert postponed_by_hold(due, None, "Europe/Paris", 8) == due
    # 2026-12-12 is a Saturday: with Monday-to-Friday working days it resumes on Monday.
    assert postponed_by_hold(due, date(2026, 12, 12), "Europe/Paris", 8,
                             frozenset({1, 2, 3, 4, 5})) == datetime(2026, 12, 14, 8, tzinfo=PARIS)
