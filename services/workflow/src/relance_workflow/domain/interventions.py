"""Pure rules on interventions (F-10, F-12): which may be deleted, when a promise is
judged."""

from datetime import date, datetime, timedelta

from relance_workflow.domain.planning import business_moment

# Scenario steps are skipped, never deleted; what a person created may be deleted (F-12).
DELETABLE_ORIGINS = frozenset({"manual", "alert", "promise"})


def promise_check_moment(promise_date: date, timezone: str = "Europe/Paris", hour: int = 8) -> datetime:
    """A promise is kept when its items are paid by its date: it is judged at the first
    business hour after that day has ended."""
    return business_moment(promise_date + timedelta(days=1), timezone, hour)
