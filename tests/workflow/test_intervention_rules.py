"""Pure rules of the dossier workflow on interventions made by hand (F-12): when a promise
is judged, which interventions may be deleted."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from relance_workflow.domain.interventions import DELETABLE_ORIGINS, promise_check_moment

PARIS = ZoneInfo("Europe/Paris")


def test_f12_a_promise_is_judged_at_the_first_business_hour_after_its_date() -> None:
    assert promise_check_moment(date(2025, 3, 14)) == datetime(2025, 3, 15, 8, tzinfo=PARIS)
    # Across the spring clock change the business hour stays 08:00 local time.
    assert promise_check_moment(date(2025, 3, 29)).astimezone(UTC) == datetime(2025, 3, 30, 6, tzinfo=UTC)


def test_f12_only_what_a_person_created_may_be_deleted() -> None:
    assert {"manual", "alert", "promise"} == DELETABLE_ORIGINS
    assert "scenario" not in DELETABLE_ORIGINS  # scenario steps are skipped instead
