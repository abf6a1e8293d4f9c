"""Pure scenario planning (F-9, F-15): which step comes next, on which items, and when.

No I/O and no clock: the workflow passes `now`-independent facts in and decides with
`workflow.now()` whether the returned due time has come."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from relance.scenarios import DelayReference, Scenario, ScenarioStep

# Item statuses that take an item out of the scenario (F-15).
EXCLUDING_STATUSES = frozenset({"dispute", "litigation"})


@dataclass(frozen=True)
class ChaseableItem:
    item_id: str
    kind: str
    due_date: date
    open_amount: Decimal
    status: str | None
    under_specific_action: bool
    in_active_dossier: bool


@dataclass(frozen=True)
class PlannedStep:
    step_index: int
    step: ScenarioStep
    due_at: datetime
    item_ids: tuple[str, ...]


def eligible_items(items: list[ChaseableItem]) -> list[ChaseableItem]:
    """Invoices still open, in the active dossier, not in dispute or litigation and not
    under a specific action (F-2, F-15, F-27)."""
    return [
        i
        for i in items
        if i.kind == "invoice"
        and i.open_amount > 0
        and i.in_active_dossier
        and not i.under_specific_action
        and (i.status or "") not in EXCLUDING_STATUSES
    ]


# ISO weekdays (Monday = 1). Scenario steps fall on working days (the dossier's
# BUSINESS_DAYS, Monday to Friday by default); every day counts where none is given.
EVERY_DAY = frozenset(range(1, 8))
MONDAY_TO_FRIDAY = frozenset(range(1, 6))


def business_moment(day: date, timezone: str, hour: int, working_days: frozenset[int] = EVERY_DAY) -> datetime:
    """A day's business hour in the business time zone, as an aware datetime; a day that
    is not a working day moves to the next one that is."""
    if working_days:
        while day.isoweekday() not in working_days:
            day += timedelta(days=1)
    return datetime.combine(day, time(hour=hour), tzinfo=ZoneInfo(timezone))


def next_step(
    scenario: Scenario,
    items: list[ChaseableItem],
    completed_steps: int,
    previous_completed_at: datetime | None,
    *,
    timezone: str = "Europe/Paris",
    hour: int = 8,
    working_days: frozenset[int] = EVERY_DAY,
) -> PlannedStep | None:
    """The next step of `scenario` after `completed_steps` steps, or None when the
    scenario is over or nothing is left to chase."""
    chased = eligible_items(items)
    if not chased or completed_steps >= len(scenario.steps):
        return None
    step = scenario.steps[completed_steps]
    if step.delay_from is DelayReference.PREVIOUS_STEP and previous_completed_at is not None:
        # Issue 10: N days after the previous step is the business hour of the local day N
        # days after it was completed (not the completion instant plus N×24 h: no 23:40
        # email, no hour lost across a DST change), like the due-date delays.
        completed_day = previous_completed_at.astimezone(ZoneInfo(timezone)).date()
        due_at = business_moment(completed_day + timedelta(days=step.delay_days), timezone, hour,
                                 working_days)
    else:
        earliest_due = min(i.due_date for i in chased)
        due_at = business_moment(earliest_due + timedelta(days=step.delay_days), timezone, hour,
                                 working_days)
    return PlannedStep(
        step_index=completed_steps,
        step=step,
        due_at=due_at,
        item_ids=tuple(i.item_id for i in chased),
    )
