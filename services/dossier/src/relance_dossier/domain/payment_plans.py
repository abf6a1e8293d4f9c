"""Pure rules of payment plans and holds (F-37): what a plan may cover and how its
instalments must add up. An error names the field at fault (answered 422)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from relance.planning import EVERY_DAY, business_moment
from relance_dossier.domain.accounts import DomainError

PLAN_STATES = ("active", "completed", "broken", "cancelled")


@dataclass(frozen=True)
class PlanItem:
    """A selected item, as the database has it now."""

    number: str
    kind: str
    open_amount: Decimal
    currency: str
    in_active_dossier: bool  # F-27: a transferred item is held by a transfer dossier
    in_plan: bool  # already covered by an active plan


@dataclass(frozen=True)
class Instalment:
    due_date: date
    amount: Decimal


def check_plan_items(items: Sequence[PlanItem]) -> tuple[str, Decimal]:
    """F-37: a plan covers open invoices of the client's active dossier, none already in an
    active plan, all in one currency. Returns (currency, the open amount covered)."""
    if not items:
        raise DomainError("item_ids", "choose at least one open item")
    for label, bad in (
        ("transferred to an agency", [i for i in items if not i.in_active_dossier]),
        ("not invoices", [i for i in items if i.kind != "invoice"]),
        ("settled", [i for i in items if i.open_amount <= 0]),
        ("already in an active payment plan", [i for i in items if i.in_plan]),
    ):
        if bad:
            raise DomainError("item_ids", f"{label}: {', '.join(i.number for i in bad)}")
    currencies = sorted({i.currency for i in items})
    if len(currencies) > 1:
        raise DomainError("item_ids", f"the items must share one currency, not {', '.join(currencies)}")
    return currencies[0], sum((i.open_amount for i in items), Decimal("0.00"))


def check_instalments(instalments: Sequence[Instalment], covered: Decimal, currency: str,
                      today: date) -> None:
    """F-37: at least one instalment; dates strictly increasing and not in the past;
    amounts above zero whose sum is the open amount of the covered items."""
    if not instalments:
        raise DomainError("instalments", "give at least one instalment")
    previous: date | None = None
    for n, instalment in enumerate(instalments):
        if instalment.amount <= 0:
            raise DomainError(f"instalments.{n}.amount", "must be above zero")
        if instalment.amount != instalment.amount.quantize(Decimal("0.01")):
            raise DomainError(f"instalments.{n}.amount", "at most two decimals")
        if instalment.due_date < today:
            raise DomainError(f"instalments.{n}.due_date", "must not be in the past")
        if previous is not None and instalment.due_date <= previous:
            raise DomainError(f"instalments.{n}.due_date",
                              "instalment dates must be strictly increasing")
        previous = instalment.due_date
    total = sum((i.amount for i in instalments), Decimal("0.00"))
    if total != covered:
        raise DomainError("instalments", f"the instalments add up to {total} {currency};"
                                         f" the items covered owe {covered} {currency}")


def check_hold(until: date, today: date) -> None:
    """F-37: a hold stops dunning until a later date (the day dunning resumes)."""
    if until <= today:
        raise DomainError("until", "must be after today")


def postponed_by_hold(due_at: datetime, hold_until: date | None, timezone: str, hour: int,
                      working_days: frozenset[int] = EVERY_DAY) -> datetime:
    """F-37: a scenario step that falls due while the client's dunning is on hold is
    postponed to the hold's end: the business hour of `hold_until` (the day dunning
    resumes; the next working day if it is not one). Steps due later keep their date."""
    if hold_until is None:
        return due_at
    resumes = business_moment(hold_until, timezone, hour, working_days)
    return max(due_at, resumes)
