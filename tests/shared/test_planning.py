"""Scenario planning (`relance.planning`, shared by the dossier's activities and the
workflows): which items a dunning step chases, and when the next step is due (F-2, F-9,
F-15, F-27)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from relance.planning import MONDAY_TO_FRIDAY, ChaseableItem, eligible_items, next_step
from relance.scenarios import ActionType, DelayReference, Scenario, ScenarioStep, StepMode

PARIS = ZoneInfo("Europe/Paris")


def item(
    item_id: str,
    due: date = date(2025, 1, 15),
    *,
    kind: str = "invoice",
    open_amount: str = "100.00",
    status: str | None = None,
    under_specific_action: bool = False,
    in_active_dossier: bool = True,
) -> ChaseableItem:
    return ChaseableItem(
        item_id=item_id,
        kind=kind,
        due_date=due,
        open_amount=Decimal(open_amount),
        status=status,
        under_specific_action=under_specific_action,
        in_active_dossier=in_active_dossier,
    )


# The shape of the standard scenario: an email on the due date, a letter 15 days after
# the email, a call 10 days after the letter.
STANDARD = Scenario(
    code="standard",
    version=1,
    name="Scénario standard",
    steps=[
        ScenarioStep(action_type=ActionType.EMAIL, delay_days=0, template_code="relance-email-1"),
        ScenarioStep(
            action_type=ActionType.LETTER,
            delay_days=15,
            delay_from=DelayReference.PREVIOUS_STEP,
            template_code="relance-courrier-2",
            mode=StepMode.AUTOMATIC_TO_CONFIRM,
        ),
        ScenarioStep(
            action_type=ActionType.CALL,
            delay_days=10,
            delay_from=DelayReference.PREVIOUS_STEP,
            mode=StepMode.MANUAL,
        ),
    ],
)


def one_step(delay_days: int, delay_from: DelayReference = DelayReference.DUE_DATE) -> Scenario:
    return Scenario(
        code="one",
        version=1,
        name="One step",
        steps=[ScenarioStep(action_type=ActionType.EMAIL, delay_days=delay_days, delay_from=delay_from)],
    )


def ids(items: list[ChaseableItem]) -> list[str]:
    return [i.item_id for i in items]


# ---- which items are chased ------------------------------------------------------------


def test_open_invoices_of_the_active_dossier_are_chased() -> None:
    items = [item("F-1"), item("F-2", open_amount="0.01")]
    assert ids(eligible_items(items)) == ["F-1", "F-2"]


def test_f2_settled_invoice_is_not_chased() -> None:
    items = [item("F-1"), item("F-2", open_amount="0.00")]
    assert ids(eligible_items(items)) == ["F-1"]


@pytest.mark.parametrize("status", ["dispute", "litigation"])
def test_f15_invoice_in_dispute_or_litigation_is_excluded_from_the_scenario(status: str) -> None:
    items = [item("F-1"), item("F-2", status=status)]
    assert ids(eligible_items(items)) == ["F-1"]


def test_f15_invoice_under_a_specific_action_is_excluded_from_the_scenario() -> None:
    items = [item("F-1", under_specific_action=True), item("F-2")]
    assert ids(eligible_items(items)) == ["F-2"]


def test_f27_invoice_moved_to_a_transfer_dossier_is_not_chased_by_the_active_scenario() -> None:
    items = [item("F-1", in_active_dossier=False), item("F-2")]
    assert ids(eligible_items(items)) == ["F-2"]


@pytest.mark.parametrize("kind", ["credit_note", "payment"])
def test_f2_credit_notes_and_payments_are_never_chased(kind: str) -> None:
    items = [item("A-1", kind=kind, open_amount="250.00"), item("F-1")]
    assert ids(eligible_items(items)) == ["F-1"]


def test_nothing_is_chased_when_every_item_is_excluded() -> None:
    items = [
        item("F-1", open_amount="0"),
        item("F-2", status="dispute"),
        item("F-3", under_specific_action=True),
        item("F-4", in_active_dossier=False),
        item("AV-1", kind="credit_note"),
    ]
    assert eligible_items(items) == []


# ---- first step: delay from the due date -----------------------------------------------


def test_f9_first_step_is_due_at_the_business_hour_of_the_earliest_due_date() -> None:
    items = [item("F-1", date(2025, 2, 5)), item("F-2", date(2025, 1, 20)), item("F-3", date(2025, 3, 1))]

    planned = next_step(STANDARD, items, completed_steps=0, previous_completed_at=None)

    assert planned is not None
    assert planned.step_index == 0
    assert planned.step.action_type is ActionType.EMAIL
    # 20 January 2025, 08:00 in Paris (winter time, UTC+1).
    assert planned.due_at == datetime(2025, 1, 20, 8, 0, tzinfo=PARIS)
    assert planned.due_at.astimezone(UTC) == datetime(2025, 1, 20, 7, 0, tzinfo=UTC)
    assert sorted(planned.item_ids) == ["F-1", "F-2", "F-3"]


def test_f9_delay_in_days_is_added_to_the_earliest_due_date() -> None:
    planned = next_step(one_step(10), [item("F-1", date(2025, 1, 25))], 0, None)

    assert planned is not None
    assert planned.due_at == datetime(2025, 2, 4, 8, 0, tzinfo=PARIS)


def test_f15_earliest_due_date_is_taken_among_chased_items_only() -> None:
    """An older invoice in dispute must not pull the reminder forward."""
    items = [
        item("F-OLD", date(2024, 11, 1), status="dispute"),
        item("F-PAID", date(2024, 12, 1), open_amount="0"),
        item("F-TRANSFERRED", date(2024, 12, 10), in_active_dossier=False),
        item("F-OPEN", date(2025, 1, 10)),
    ]

    planned = next_step(STANDARD, items, 0, None)

    assert planned is not None
    assert planned.due_at == datetime(2025, 1, 10, 8, 0, tzinfo=PARIS)
    assert planned.item_ids == ("F-OPEN",)


def test_f9_business_hour_in_paris_across_the_spring_clock_change() -> None:
    """Clocks go forward on 30 March 2025: 08:00 in Paris is 07:00 UTC the day before and
    06:00 UTC on that day."""
    before = next_step(one_step(1), [item("F-1", date(2025, 3, 28))], 0, None)
    on_change_day = next_step(one_step(1), [item("F-1", date(2025, 3, 29))], 0, None)

    assert before is not None and on_change_day is not None
    assert before.due_at.astimezone(UTC) == datetime(2025, 3, 29, 7, 0, tzinfo=UTC)
    assert on_change_day.due_at.astimezone(UTC) == datetime(2025, 3, 30, 6, 0, tzinfo=UTC)
    for planned in (before, on_change_day):
        local = planned.due_at.astimezone(PARIS)
        assert (local.hour, local.minute) == (8, 0)


def test_f9_business_hour_in_paris_across_the_autumn_clock_change() -> None:
    """Clocks go back on 26 October 2025: 08:00 in Paris becomes 07:00 UTC."""
    planned = next_step(one_step(0), [item("F-1", date(2025, 10, 26))], 0, None)

    assert planned is not None
    assert planned.due_at.astimezone(UTC) == datetime(2025, 10, 26, 7, 0, tzinfo=UTC)
    assert planned.due_at.utcoffset() == timedelta(hours=1)


def test_f9_business_time_zone_and_hour_are_configurable() -> None:
    planned = next_step(
        one_step(0), [item("F-1", date(2025, 7, 1))], 0, None, timezone="America/Martinique", hour=9
    )

    assert planned is not None
    # Martinique is UTC-4 all year.
    assert planned.due_at.astimezone(UTC) == datetime(2025, 7, 1, 13, 0, tzinfo=UTC)


# ---- later steps: delay from the previous step -----------------------------------------


def test_f9_step_after_the_previous_one_is_due_its_delay_after_the_previous_completion() -> None:
    completed_at = datetime(2025, 2, 3, 14, 30, tzinfo=UTC)
    items = [item("F-1", date(2025, 1, 20))]

    planned = next_step(STANDARD, items, completed_steps=1, previous_completed_at=completed_at)

    assert planned is not None
    assert planned.step_index == 1
    assert planned.step.action_type is ActionType.LETTER
    # Issue 10: the business hour of the local day 15 days after the completion.
    assert planned.due_at == datetime(2025, 2, 18, 8, 0, tzinfo=PARIS)


def test_f9_delay_from_previous_step_does_not_depend_on_item_due_dates() -> None:
    completed_at = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    early = next_step(STANDARD, [item("F-1", date(2024, 6, 1))], 2, completed_at)
    late = next_step(STANDARD, [item("F-1", date(2025, 2, 27))], 2, completed_at)

    assert early is not None and late is not None
    assert early.step.action_type is ActionType.CALL
    assert early.due_at == late.due_at == datetime(2025, 3, 11, 8, 0, tzinfo=PARIS)


def test_f9_days_after_the_previous_step_land_on_the_local_business_hour_across_dst() -> None:
    """Issue 10: completed at 23:40 in Paris the night before the spring DST change, one
    day later is the next local day at 8:00 (CEST), not 23:40 UTC the next day."""
    completed_at = datetime(2025, 3, 29, 23, 40, tzinfo=PARIS)
    scenario = Scenario(code="prev", version=1, name="prev", steps=[
        ScenarioStep(action_type=ActionType.EMAIL, delay_days=0),
        ScenarioStep(action_type=ActionType.EMAIL, delay_days=1, delay_from=DelayReference.PREVIOUS_STEP),
    ])
    planned = next_step(scenario, [item("F-1")], 1, completed_at.astimezone(UTC))
    assert planned is not None
    assert planned.due_at == datetime(2025, 3, 30, 8, 0, tzinfo=PARIS)
    assert planned.due_at.astimezone(UTC) == datetime(2025, 3, 30, 6, 0, tzinfo=UTC)

    # The business time zone and hour are settings, as for due-date delays.
    other = next_step(scenario, [item("F-1")], 1, completed_at.astimezone(UTC),
                      timezone="America/Martinique", hour=9)
    assert other is not None
    assert other.due_at == datetime(2025, 3, 30, 9, 0, tzinfo=ZoneInfo("America/Martinique"))


def test_f9_later_step_with_delay_from_due_date_ignores_the_previous_completion() -> None:
    scenario = Scenario(
        code="due-date-only",
        version=1,
        name="Both steps from the due date",
        steps=[
            ScenarioStep(action_type=ActionType.EMAIL, delay_days=0),
            ScenarioStep(action_type=ActionType.LETTER, delay_days=30),
        ],
    )

    planned = next_step(
        scenario, [item("F-1", date(2025, 1, 10))], 1, datetime(2025, 1, 12, 10, 0, tzinfo=UTC)
    )

    assert planned is not None
    assert planned.step_index == 1
    assert planned.due_at == datetime(2025, 2, 9, 8, 0, tzinfo=PARIS)


def test_f9_the_chased_items_of_a_later_step_are_those_still_open() -> None:
    items = [item("F-1", open_amount="0"), item("F-2"), item("F-3", status="dispute")]

    planned = next_step(STANDARD, items, 1, datetime(2025, 2, 1, tzinfo=UTC))

    assert planned is not None
    assert planned.item_ids == ("F-2",)


# ---- nothing to plan -------------------------------------------------------------------


def test_f9_no_step_when_the_scenario_is_over() -> None:
    assert next_step(STANDARD, [item("F-1")], 3, datetime(2025, 3, 1, tzinfo=UTC)) is None


def test_f2_no_step_when_every_item_is_settled() -> None:
    items = [item("F-1", open_amount="0"), item("F-2", open_amount="0.00")]
    assert next_step(STANDARD, items, 0, None) is None


def test_f15_no_step_when_every_open_item_is_in_dispute_or_under_a_specific_action() -> None:
    items = [item("F-1", status="dispute"), item("F-2", under_specific_action=True)]
    assert next_step(STANDARD, items, 1, datetime(2025, 2, 1, tzinfo=UTC)) is None


def test_no_step_for_an_account_without_items() -> None:
    assert next_step(STANDARD, [], 0, None) is None


def test_f9_a_step_falling_on_a_day_off_moves_to_the_next_working_day() -> None:
    """Issue 10: delays land on a working day like on the business hour. 2025-03-08 is a
    Saturday: with Monday to Friday as working days the step is on Monday the 10th."""
    scenario = Scenario(code="wd", version=1, name="wd", steps=[
        ScenarioStep(action_type=ActionType.EMAIL, delay_days=3),
        ScenarioStep(action_type=ActionType.EMAIL, delay_days=1, delay_from=DelayReference.PREVIOUS_STEP),
    ])
    first = next_step(scenario, [item("F-1", due=date(2025, 3, 5))], 0, None,
                      working_days=MONDAY_TO_FRIDAY)
    assert first is not None and first.due_at == datetime(2025, 3, 10, 8, 0, tzinfo=PARIS)
    # Every day counts when every day is a working day.
    assert next_step(scenario, [item("F-1", due=date(2025, 3, 5))], 0, None).due_at == \
        datetime(2025, 3, 8, 8, 0, tzinfo=PARIS)

    # Completed on Friday evening, "one day after" is Monday at the business hour.
    friday_evening = datetime(2025, 3, 7, 19, 30, tzinfo=PARIS)
    second = next_step(scenario, [item("F-1")], 1, friday_evening.astimezone(UTC),
                       working_days=MONDAY_TO_FRIDAY)
    assert second is not None and second.due_at == datetime(2025, 3, 10, 8, 0, tzinfo=PARIS)
    # An organisation working on Saturdays says so.
    saturday = next_step(scenario, [item("F-1")], 1, friday_evening.astimezone(UTC),
                         working_days=frozenset({1, 2, 3, 4, 5, 6}))
    assert saturday is not None and saturday.due_at == datetime(2025, 3, 8, 8, 0, tzinfo=PARIS)


def test_business_days_are_iso_weekdays() -> None:
    from relance_dossier.settings import Settings

    assert Settings(business_days=[5, 1, 1]).business_days == [1, 5]
    with pytest.raises(ValueError, match="ISO weekdays"):
        Settings(business_days=[0, 8])
