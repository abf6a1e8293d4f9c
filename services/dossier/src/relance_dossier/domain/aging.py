"""Aging buckets of open items (F-36, F-40): one definition for the KPIs, the aging
report and its exports.

An item's age is the number of days past its due date on the day of the report; an item
not yet due is in "not_due". Credit notes and payments age like invoices: their negative
open amounts lower the bucket they fall in, as on a client's statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class AgingBucket:
    key: str
    label: str
    min_days: int | None  # days past due, inclusive; None: not yet due
    max_days: int | None  # inclusive; None: no upper bound


AGING_BUCKETS: tuple[AgingBucket, ...] = (
    AgingBucket("not_due", "Not due", None, 0),
    AgingBucket("d1_30", "1–30 days", 1, 30),
    AgingBucket("d31_60", "31–60 days", 31, 60),
    AgingBucket("d61_90", "61–90 days", 61, 90),
    AgingBucket("d90_plus", "Over 90 days", 91, None),
)


def days_past_due(due_date: date, on: date) -> int:
    return (on - due_date).days


def bucket_for(due_date: date, on: date) -> AgingBucket:
    days = days_past_due(due_date, on)
    for bucket in AGING_BUCKETS[1:]:
        if days >= (bucket.min_days or 0) and (bucket.max_days is None or days <= bucket.max_days):
            return bucket
    return AGING_BUCKETS[0]


def bucket_case_sql(due_date_column: str, on_parameter: str) -> str:
    """The SQL expression that gives an item's bucket key, for reports computed in the
    database: `bucket_case_sql("i.due_date", "$1")` with `$1` the report's date."""
    age = f"({on_parameter}::date - {due_date_column})"
    whens = " ".join(
        f"WHEN {age} >= {b.min_days} THEN '{b.key}'" for b in reversed(AGING_BUCKETS[1:])
    )
    return f"(CASE {whens} ELSE '{AGING_BUCKETS[0].key}' END)"
