"""Late fees and interest of B2B accounts under French law (F-38): the rule, without I/O.

- **Recovery indemnity** (indemnité forfaitaire pour frais de recouvrement, Code de
  commerce L441-10 and D441-5): a fixed amount (RECOVERY_INDEMNITY_AMOUNT, 40.00 by
  default) per late invoice, once per invoice ever. An invoice is late on a day when its
  open amount is above zero and its due date is before that day. The indemnity is in euros:
  only items in a currency of RECOVERY_INDEMNITY_CURRENCIES (`["EUR"]` by default) get it,
  as that amount in the item's currency.
- **Late-payment interest**: open amount × annual rate × days late / 365, for the days
  after the due date (or after the last day already charged) up to the day asked. The
  rate is LATE_INTEREST_RATE, 0.1215 by default: the ECB main refinancing rate (2.15 %)
  plus 10 points, the legal minimum rate between businesses.
- **Rounding**: each figure is computed exactly and rounded once, to cents, half up
  (ROUND_HALF_UP on the item's total interest, never day by day); totals per currency are
  the sums of the rounded figures, so charged items add up to the totals shown.
- **Policy**: LATE_FEES_ENABLED (true) with the rate and the indemnity above are the
  defaults; a segment's policy overrides them, and a client's policy overrides its
  segment's, field by field (a NULL rate or indemnity inherits).
- **Charging**: fees become items when a manager charges them, or by themselves where
  the policy's `auto_charge` says so (LATE_FEES_AUTO_CHARGE, false by default): the
  late-fee run charges them every month on LATE_FEE_RUN_DAY (the 1st) at the business
  hour, up to that day (`next_late_fee_run`).
- Only invoices bear fees: credit notes, payments and fee items never do. Amounts are in
  the item's currency; several currencies are never added together.

The same rule is written as SQL expressions (`interest_sql`, `indemnity_sql`) so that
figures over many rows are computed in the database; the tests check both agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from relance.planning import business_moment

CENT = Decimal("0.01")
DAYS_PER_YEAR = 365
DEFAULT_INTEREST_RATE = Decimal("0.1215")
DEFAULT_INDEMNITY_AMOUNT = Decimal("40.00")
DEFAULT_INDEMNITY_CURRENCIES: tuple[str, ...] = ("EUR",)
FEE_KIND = "fee"  # items.kind of a charged fee
# The numbers of the fee items a charge adds, from the invoice's number.
INDEMNITY_PREFIX = "IND-"
INTEREST_PREFIX = "INT-"


@dataclass(frozen=True, slots=True)
class LateFeePolicy:
    enabled: bool = True
    interest_rate: Decimal = DEFAULT_INTEREST_RATE  # annual: 0.1215 is 12.15 %
    indemnity_amount: Decimal = DEFAULT_INDEMNITY_AMOUNT
    indemnity_currencies: tuple[str, ...] = DEFAULT_INDEMNITY_CURRENCIES
    auto_charge: bool = False  # charged by the monthly late-fee run


@dataclass(frozen=True, slots=True)
class PolicyOverride:
    """A segment's or a client's policy: None inherits."""

    enabled: bool | None = None
    interest_rate: Decimal | None = None
    indemnity_amount: Decimal | None = None
    auto_charge: bool | None = None


def effective_policy(
    defaults: LateFeePolicy, segment: PolicyOverride | None, client: PolicyOverride | None
) -> LateFeePolicy:
    """The client's policy wins over its segment's, which wins over the defaults."""

    def pick(field: str) -> Any:
        for override in (client, segment):
            if override is not None and getattr(override, field) is not None:
                return getattr(override, field)
        return getattr(defaults, field)

    return LateFeePolicy(
        enabled=pick("enabled"), interest_rate=pick("interest_rate"),
        indemnity_amount=pick("indemnity_amount"),
        indemnity_currencies=defaults.indemnity_currencies, auto_charge=pick("auto_charge"),
    )


def next_late_fee_run(after: datetime, run_day: int, timezone: str, hour: int) -> tuple[date, datetime]:
    """The late-fee run after the moment `after`: the day of the month `run_day` (1 to 28,
    so every month has it) at the business hour in the business time zone, this month's if
    it is still to come, else next month's. Every day counts, weekends included: no one
    has to be at work for fees to be charged. Returns the day charged up to and the moment."""
    day = after.astimezone(ZoneInfo(timezone)).date().replace(day=run_day)
    moment = business_moment(day, timezone, hour)
    if moment <= after:
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=run_day)
        moment = business_moment(day, timezone, hour)
    return day, moment


def is_late(kind: str, open_amount: Decimal, due_date: date, on: date) -> bool:
    return kind == "invoice" and open_amount > 0 and due_date < on


def interest_days(due_date: date, on: date, charged_through: date | None = None) -> int:
    """Days of interest not yet charged: after the due date, or after the last day already
    charged, up to `on` included; never negative."""
    start = max(due_date, charged_through) if charged_through else due_date
    return max((on - start).days, 0)


def late_interest(open_amount: Decimal, rate: Decimal, days: int) -> Decimal:
    """open amount × rate × days / 365, rounded half up to cents."""
    exact = Decimal(open_amount) * Decimal(rate) * days / DAYS_PER_YEAR
    return exact.quantize(CENT, rounding=ROUND_HALF_UP)


def recovery_indemnity(policy: LateFeePolicy, currency: str, already_charged: bool) -> Decimal:
    if not policy.enabled or already_charged or currency not in policy.indemnity_currencies:
        return Decimal("0.00")
    return Decimal(policy.indemnity_amount).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class LateFees:
    interest_days: int
    interest: Decimal
    indemnity: Decimal


def fees_for(
    policy: LateFeePolicy, *, kind: str, open_amount: Decimal, due_date: date, currency: str,
    on: date, charged_through: date | None = None, indemnity_charged: bool = False,
) -> LateFees:
    """The fees an item owes on `on` beyond those already charged."""
    if not is_late(kind, open_amount, due_date, on):
        return LateFees(0, Decimal("0.00"), Decimal("0.00"))
    days = interest_days(due_date, on, charged_through)
    interest = late_interest(open_amount, policy.interest_rate, days) if policy.enabled else Decimal("0.00")
    return LateFees(days, interest, recovery_indemnity(policy, currency, indemnity_charged))


# ---- the same rule in SQL ---------------------------------------------------------------


def interest_sql(open_amount: str, rate: str, days: str, enabled: str) -> str:
    """The item's interest as a SQL expression: PostgreSQL's round(numeric, 2) rounds half
    away from zero, which is half up on these positive amounts."""
    return (
        f"(CASE WHEN {enabled} THEN round(({open_amount}) * ({rate}) * ({days})"
        f" / {DAYS_PER_YEAR}, 2) ELSE 0 END)"
    )


def indemnity_sql(amount: str, currency: str, currencies: str, charged: str, enabled: str) -> str:
    return (
        f"(CASE WHEN {enabled} AND NOT {charged} AND {currency} = ANY({currencies})"
        f" THEN round({amount}, 2) ELSE 0 END)"
    )
