"""Issue 10, "Workflows that lose or wedge", on dev servers (Updates): the dossier
workflow's continue-as-new never drops a notifier outcome that arrives while it waits for
its handlers, and a promise check racing a `delete` Update never fails the workflow task.

Slow copies of two activities hold the race open deterministically; a dev server of this
module's own suggests continue-as-new after a few dozen history events."""

import asyncio
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from relance import search_attributes
from relance.contracts import dossier as contract
from relance.contracts.dossier import (
    CommunicationOutcome,
    DossierWorkflowInput,
    EditRequest,
    InterventionCommand,
    InterventionDeletion,
    InterventionEdit,
    ItemsChanged,
    NewIntervention,
    OpenInterventionRequest,
    OpenInterventionResult,
    PlannedStepOut,
    PlanRequest,
    PrepareNextStep,
    PromiseCheckRequest,
    PromiseCheckResult,
)
from relance.workflow_ids import dossier_workflow_id
from relance_dossier.activities.dossier import DossierActivities
from relance_workflow import worker as workflow_worker
from relance_workflow.settings import Settings as WorkflowSettings
from relance_workflow.workflows.dossier import DossierWorkflow
from tests.workflow.conftest import _binary, seed_dossier

SLOW = 4.0
SUGGEST_AFTER_EVENTS = 60


@pytest.fixture(scope="module")
async def env():
    server = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=_binary("temporal"),
        dev_server_extra_args=["--dynamic-config-value",
                               f"limit.historyCount.suggestContinueAsNew={SUGGEST_AFTER_EVENTS}"],
    )
    try:
        await search_attributes.register(server.client)
        yield server
    finally:
        await server.shutdown()


@asynccontextmanager
async def _workers(env, pool, *, rows_before_answers: bool = False, slow_plan: bool = False):
    real = DossierActivities(pool, "Europe/Paris", 8)

    @activity.defn(name=contract.EDIT_INTERVENTION.name)
    async def slow_edit(request: EditRequest) -> bool:
        await asyncio.sleep(SLOW)
        return await real.edit_intervention(request)

    @activity.defn(name=contract.CHECK_PROMISE.name)
    async def slow_check(request: PromiseCheckRequest) -> PromiseCheckResult:
        await asyncio.sleep(SLOW)
        return await real.check_promise(request)

    # The row is committed, and shows in the console, well before the workflow hears back.
    @activity.defn(name=contract.OPEN_INTERVENTION.name)
    async def slow_open(request: OpenInterventionRequest) -> OpenInterventionResult:
        opened = await real.open_intervention(request)
        await asyncio.sleep(SLOW)
        return opened

    @activity.defn(name=contract.CHECK_PROMISE.name)
    async def check_then_wait(request: PromiseCheckRequest) -> PromiseCheckResult:
        checked = await real.check_promise(request)
        await asyncio.sleep(SLOW)
        return checked

    @activity.defn(name=contract.PLAN_NEXT_STEP.name)
    async def slow_plan_next_step(request: PlanRequest) -> PlannedStepOut:
        await asyncio.sleep(SLOW)
        return await real.plan_next_step(request)

    slowed = {"edit_intervention": slow_edit, "check_promise": slow_check}
    if rows_before_answers:
        slowed |= {"open_intervention": slow_open, "check_promise": check_then_wait}
    if slow_plan:
        slowed["plan_next_step"] = slow_plan_next_step
    others = [a for a in real.all() if a.__name__ not in slowed]
    suffix = uuid4().hex[:6]
    workflows, dossier = f"races-{suffix}", f"races-dossier-{suffix}"
    async with (
        workflow_worker.build_worker(env.client, WorkflowSettings(temporal_task_queue=workflows)),
        Worker(env.client, task_queue=dossier, activities=[*others, *slowed.values()]),
    ):
        yield workflows, dossier


@pytest.fixture
async def queues(env, pool):
    async with _workers(env, pool) as pair:
        yield pair


@pytest.fixture
async def rows_first_queues(env, pool):
    async with _workers(env, pool, rows_before_answers=True) as pair:
        yield pair


@pytest.fixture
async def slow_plan_queues(env, pool):
    async with _workers(env, pool, slow_plan=True) as pair:
        yield pair


async def _until(check, timeout: float = 30):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met")
        await asyncio.sleep(0.1)
    return result


ONE_CALL = [{"action_type": "call", "delay_days": 0, "mode": "manual"}]
TWO_CALLS = [*ONE_CALL,
             {"action_type": "call", "delay_days": 20, "delay_from": "previous_step", "mode": "manual"}]


async def _start(env, pool, queues, steps=ONE_CALL):
    workflows, dossier = queues
    scenario = f"races-{uuid4().hex[:6]}"
    await pool.execute(
        "INSERT INTO scenarios (code, version, name, steps) VALUES ($1, 1, $1, $2)", scenario, steps)
    client_id, dossier_id, code = await seed_dossier(
        pool, [(date.today() - timedelta(days=3), Decimal("90.00"))], scenario)
    handle = await env.client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(dossier_id=dossier_id, client_id=client_id, client_code=code,
                             dossier_task_queue=dossier),
        id=dossier_workflow_id(dossier_id), task_queue=workflows,
    )
    call_id = await _until(lambda: pool.fetchval(
        "SELECT id FROM interventions WHERE dossier_id = $1 AND status = 'todo'", dossier_id))
    return handle, dossier_id, call_id


async def _task_failures(handle) -> list[str]:
    history = await handle.fetch_history()
    return [e.workflow_task_failed_event_attributes.failure.message for e in history.events
            if e.WhichOneof("attributes") == "workflow_task_failed_event_attributes"]


async def test_an_outcome_arriving_while_continue_as_new_waits_for_handlers_is_applied(
    env, pool, queues
):
    handle, dossier_id, call_id = await _start(env, pool, queues)
    # A collector's edit is in flight (slow activity) ...
    await handle.start_update(
        DossierWorkflow.edit, InterventionEdit(intervention_id=call_id, actor="user:ana",
                                               comment="rappel"),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    # ... while item events grow the history past the continue-as-new suggestion ...
    while len((await handle.fetch_history()).events) <= SUGGEST_AFTER_EVENTS:
        await handle.signal(DossierWorkflow.items_changed, ItemsChanged(event_id=str(uuid4())))
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the loop now waits for the edit to finish
    # ... and the notifier reports the intervention's communication as sent.
    await handle.signal(DossierWorkflow.communication_outcome, CommunicationOutcome(
        event_id=str(uuid4()), communication_id=uuid4(), intervention_id=call_id, status="sent"))

    status = await _until(lambda: pool.fetchval(
        "SELECT status FROM interventions WHERE id = $1 AND status <> 'todo'", call_id),
        timeout=SLOW + 15)
    assert status == "done"  # the outcome closed it, it was not dropped with the old run


async def test_a_promise_check_racing_a_delete_update_does_not_fail_the_workflow(
    env, pool, queues
):
    handle, dossier_id, call_id = await _start(env, pool, queues)
    promise_id = uuid4()
    # A promise already due: the main loop checks it at once (slow activity) ...
    await handle.execute_update(DossierWorkflow.create, NewIntervention(
        intervention_id=promise_id, actor="user:ana", kind="promise",
        due_at=datetime.now(UTC), promise_amount="90.00",
        promise_date=date.today() - timedelta(days=3)))
    await asyncio.sleep(0.5)
    # ... while the collector deletes it.
    assert await handle.execute_update(DossierWorkflow.delete, InterventionDeletion(
        intervention_id=promise_id, actor="user:ana", confirm=True))
    await asyncio.sleep(SLOW)
    # The workflow goes on: another command is answered, no workflow task ever failed.
    alert_id = uuid4()
    await asyncio.wait_for(handle.execute_update(DossierWorkflow.create, NewIntervention(
        intervention_id=alert_id, actor="user:ana", kind="alert",
        due_at=datetime.now(UTC) + timedelta(days=1))), timeout=15)
    assert await _task_failures(handle) == []
    status = await handle.query(DossierWorkflow.status)
    assert status.open_interventions == 2  # the call and the alert; the promise is gone


@pytest.fixture
async def martinique_queues(env, pool):
    """The dossier service's worker with another business time zone and hour."""
    suffix = uuid4().hex[:6]
    workflows, dossier = f"clock-{suffix}", f"clock-dossier-{suffix}"
    activities = DossierActivities(pool, "America/Martinique", 9).all()
    async with (
        workflow_worker.build_worker(env.client, WorkflowSettings(temporal_task_queue=workflows)),
        Worker(env.client, task_queue=dossier, activities=activities),
    ):
        yield workflows, dossier


async def test_a_promise_is_judged_at_the_business_time_zone_and_hour_of_the_settings(
    env, pool, martinique_queues
):
    """Issue 10 (F-12): not at a hard-coded 08:00 in Paris."""
    handle, _, _ = await _start(env, pool, martinique_queues)
    promise_date = date.today() + timedelta(days=3)
    await handle.execute_update(DossierWorkflow.create, NewIntervention(
        intervention_id=uuid4(), actor="user:ana", kind="promise", due_at=datetime.now(UTC),
        promise_amount="90.00", promise_date=promise_date))
    expected = datetime.combine(promise_date + timedelta(days=1), datetime.min.time().replace(hour=9),
                                ZoneInfo("America/Martinique"))

    async def promise_timer():
        history = await handle.fetch_history()
        timers = [e for e in history.events
                  if e.WhichOneof("attributes") == "timer_started_event_attributes"]
        if not timers:
            return None
        last = timers[-1]
        return (last.event_time.ToDatetime(tzinfo=UTC)
                + last.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta())

    fires_at = await _until(promise_timer)
    assert abs(fires_at - expected) < timedelta(seconds=5), (fires_at, expected)


async def test_prepare_next_step_while_continue_as_new_waits_for_handlers_does_not_deadlock(
    env, pool, queues
):
    """Issue 10: a prepare_next_step arriving while continue-as-new waits for the handlers
    (which include itself) is served by the loop, neither left waiting nor cut short by
    the continue-as-new."""
    handle, _, call_id = await _start(env, pool, queues, TWO_CALLS)
    await handle.execute_update(DossierWorkflow.done, InterventionCommand(
        intervention_id=call_id, actor="user:ana"))
    # A slow edit is in flight while item events grow the history past the suggestion.
    await handle.start_update(
        DossierWorkflow.edit, InterventionEdit(intervention_id=call_id, actor="user:ana",
                                               comment="note"),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    while len((await handle.fetch_history()).events) <= SUGGEST_AFTER_EVENTS:
        await handle.signal(DossierWorkflow.items_changed, ItemsChanged(event_id=str(uuid4())))
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)

    result = await asyncio.wait_for(handle.execute_update(
        DossierWorkflow.prepare_next_step, PrepareNextStep(actor="user:ana")), timeout=SLOW + 15)
    assert result.intervention_id is not None
    assert await pool.fetchval("SELECT step_index FROM interventions WHERE id = $1",
                               result.intervention_id) == 1


async def test_done_on_a_step_the_moment_its_row_shows_waits_for_the_workflow_and_closes_it(
    env, pool, rows_first_queues
):
    """F-10: the step's row is in the database (and the console) before the workflow has
    the open activity's answer; a Done clicked then is served once the workflow has it,
    not refused as "not To do"."""
    handle, dossier_id, call_id = await _start(env, pool, rows_first_queues)

    result = await asyncio.wait_for(handle.execute_update(
        DossierWorkflow.done, InterventionCommand(intervention_id=call_id, actor="user:ana")),
        timeout=SLOW + 15)

    assert result.status == "done"
    assert await pool.fetchval("SELECT status FROM interventions WHERE id = $1", call_id) == "done"
    assert await _task_failures(handle) == []


async def test_done_on_a_broken_promises_follow_up_the_moment_its_row_shows_is_served(
    env, pool, rows_first_queues
):
    """F-12: a promise past its date and unpaid opens a follow-up call; a Done on it
    while the workflow still awaits the check's answer is served, not refused."""
    handle, dossier_id, call_id = await _start(env, pool, rows_first_queues)
    await handle.execute_update(DossierWorkflow.done, InterventionCommand(
        intervention_id=call_id, actor="user:ana"))
    promise_id = uuid4()
    await handle.execute_update(DossierWorkflow.create, NewIntervention(
        intervention_id=promise_id, actor="user:ana", kind="promise",
        due_at=datetime.now(UTC), promise_amount="90.00",
        promise_date=date.today() - timedelta(days=3)))
    follow_up_id = await _until(lambda: pool.fetchval(
        "SELECT id FROM interventions WHERE dossier_id = $1 AND status = 'todo'"
        " AND id NOT IN ($2, $3)", dossier_id, call_id, promise_id))

    result = await asyncio.wait_for(handle.execute_update(
        DossierWorkflow.done, InterventionCommand(intervention_id=follow_up_id, actor="user:ana")),
        timeout=SLOW + 15)

    assert result.status == "done"
    assert await pool.fetchval("SELECT status FROM interventions WHERE id = $1",
                               follow_up_id) == "done"
    assert await _task_failures(handle) == []


async def test_a_command_on_an_intervention_this_dossier_never_opened_is_refused_at_once(
    env, pool, queues
):
    """F-10: an intervention this dossier never opened is refused at once with its reason."""
    handle, _, _ = await _start(env, pool, queues)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(DossierWorkflow.done, InterventionCommand(
            intervention_id=uuid4(), actor="user:ana"))
    assert "not To do on this dossier" in str(refused.value.cause)


async def test_a_step_done_while_the_next_plan_is_made_is_never_opened_again(
    env, pool, slow_plan_queues
):
    """F-10: the loop plans right after opening a step; a Done landing meanwhile makes that
    plan stale (it was made on the steps completed before). The loop plans again: the step
    done stays done, and the scenario waits for the next one."""
    handle, dossier_id, call_id = await _start(env, pool, slow_plan_queues, TWO_CALLS)

    await asyncio.wait_for(handle.execute_update(
        DossierWorkflow.done, InterventionCommand(intervention_id=call_id, actor="user:ana")),
        timeout=SLOW * 2 + 15)

    async def waiting_for_the_second_step():
        status = await handle.query(DossierWorkflow.status)
        return (status.state == "scheduled" and status.next_step is not None
                and status.next_step.step_index == 1)

    await _until(waiting_for_the_second_step, timeout=SLOW * 3 + 15)
    rows = await pool.fetch("SELECT step_index, status FROM interventions WHERE dossier_id = $1",
                            dossier_id)
    assert [(r["step_index"], r["status"]) for r in rows] == [(0, "done")]
    assert await _task_failures(handle) == []
