"""The aging buckets (F-36, F-40): the Python rule and the SQL expression agree."""

from datetime import date, timedelta

import pytest

from relance_dossier.domain.aging import AGING_BUCKETS, bucket_case_sql, bucket_for

ON = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("days_late", "expected"),
    [(-10, "not_due"), (0, "not_due"), (1, "d1_30"), (30, "d1_30"), (31, "d31_60"),
     (60, "d31_60"), (61, "d61_90"), (90, "d61_90"), (91, "d90_plus"), (400, "d90_plus")],
)
def test_an_item_falls_in_the_bucket_of_its_days_past_due(days_late: int, expected: str) -> None:
    assert bucket_for(ON - timedelta(days=days_late), ON).key == expected


def test_the_buckets_are_the_five_of_the_spec_in_order() -> None:
    assert [b.key for b in AGING_BUCKETS] == ["not_due", "d1_30", "d31_60", "d61_90", "d90_plus"]


def test_the_sql_expression_tests_the_oldest_bucket_first() -> None:
    sql = bucket_case_sql("i.due_date", "$1")
    assert sql.index("'d90_plus'") < sql.index("'d61_90'") < sql.index("'d1_30'")
    assert sql.endswith("ELSE 'not_due' END)")
