"""Scenario timers on the time-skipping server (F-9, F-10): a step fires at its due
moment and not one second before; paid items take the dossier out of the scenario."""

from datetime import datetime, timedelta
from decimal import Decimal
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from relance.contracts.dossier import CommunicationOutcome, DossierWorkflowInput, ItemsChanged
from relance.workflow_ids import dossier_workflow_id
from relance_workflow.workflows.dossier import DossierWorkflow
from tests.workflow.conftest import seed_dossier, workers

PARIS = ZoneInfo("Europe/Paris")


async def _eventually(check, attempts: int = 100):
    import asyncio

    for _ in range(attempts):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.1)
    return await check()


@pytest.fixture(scope="module")
async def scenario_3_and_10(pool):
    """Two automatic emails, 3 and 10 days after the earliest due date."""
    code = f"t3-10-{uuid4().hex[:6]}"
    steps = [
        {"action_type": "email", "delay_days": 3, "delay_from": "due_date",
         "template_code": "relance-email-1", "mode": "automatic"},
        {"action_type": "email", "delay_days": 10, "delay_from": "due_date",
         "template_code": "relance-email-1", "mode": "automatic"},
    ]
    await pool.execute(
        "INSERT INTO scenarios (code, version, name, steps) VALUES ($1, 1, $1, $2)", code, steps
    )
    return code


@pytest.fixture(scope="module")
async def worker(time_skipping_env, pool, stack):
    async with workers(time_skipping_env.client, pool, "timers") as queues:
        yield queues


async def _interventions(pool, dossier_id):
    return await pool.fetch(
        "SELECT step_index, status, due_at FROM interventions WHERE dossier_id = $1"
        " ORDER BY step_index", dossier_id,
    )


async def _advance_to(env, moment: datetime) -> None:
    delta = moment - await env.get_current_time()
    if delta > timedelta(0):
        await env.sleep(delta)


async def test_steps_3_and_10_days_after_due_date_fire_on_those_days_not_before(
    time_skipping_env, pool, worker, scenario_3_and_10
):
    env = time_skipping_env
    due = (await env.get_current_time()).astimezone(PARIS).date() + timedelta(days=1)
    client_id, dossier_id, code = await seed_dossier(pool, [(due, Decimal("500.00"))], scenario_3_and_10)
    handle = await env.client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(
            dossier_id=dossier_id, client_id=client_id, client_code=code,
            dossier_task_queue=worker.dossier,
        ),
        id=dossier_workflow_id(dossier_id), task_queue=worker.workflows,
    )
    day3 = datetime.combine(due + timedelta(days=3), datetime.min.time().replace(hour=8), PARIS)
    day10 = datetime.combine(due + timedelta(days=10), datetime.min.time().replace(hour=8), PARIS)

    await _advance_to(env, day3 - timedelta(seconds=1))
    assert await _interventions(pool, dossier_id) == []  # one second early: nothing

    await env.sleep(timedelta(seconds=1))
    first = await _eventually(lambda: _interventions(pool, dossier_id))
    assert [(r["step_index"], r["status"]) for r in first] == [(0, "todo")]
    assert first[0]["due_at"] == day3

    # The notifier reports the email sent: the intervention is Done (F-10).
    communication_id = uuid4()
    await handle.signal(DossierWorkflow.communication_outcome, CommunicationOutcome(
        event_id=str(uuid4()), communication_id=communication_id,
        intervention_id=(await pool.fetchval(
            "SELECT id FROM interventions WHERE dossier_id = $1", dossier_id)),
        status="sent",
    ))

    async def first_done():
        rows = await _interventions(pool, dossier_id)
        return rows if rows and rows[0]["status"] == "done" else None

    assert await _eventually(first_done)

    await _advance_to(env, day10 - timedelta(seconds=1))
    assert len(await _interventions(pool, dossier_id)) == 1  # step 2 not yet

    await env.sleep(timedelta(seconds=1))

    async def second_open():
        rows = await _interventions(pool, dossier_id)
        return rows if len(rows) == 2 else None

    rows = await _eventually(second_open)
    assert (rows[1]["step_index"], rows[1]["status"], rows[1]["due_at"]) == (1, "todo", day10)


async def test_items_paid_before_the_step_is_due_take_the_dossier_out_of_the_scenario(
    time_skipping_env, pool, worker, scenario_3_and_10
):
    env = time_skipping_env
    due = (await env.get_current_time()).astimezone(PARIS).date()
    client_id, dossier_id, code = await seed_dossier(pool, [(due, Decimal("80.00"))], scenario_3_and_10)
    handle = await env.client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(
            dossier_id=dossier_id, client_id=client_id, client_code=code,
            dossier_task_queue=worker.dossier,
        ),
        id=dossier_workflow_id(dossier_id), task_queue=worker.workflows,
    )
    await env.sleep(timedelta(days=2))
    # Day 2: the client pays (F-2: open amount 0 = settled); the item event reaches the workflow.
    await pool.execute("UPDATE items SET open_amount = 0 WHERE dossier_id = $1", dossier_id)
    event_id = str(uuid4())
    await handle.signal(DossierWorkflow.items_changed, ItemsChanged(event_id=event_id))
    await handle.signal(DossierWorkflow.items_changed, ItemsChanged(event_id=event_id))  # redelivered

    await env.sleep(timedelta(days=12))
    assert await _interventions(pool, dossier_id) == []
    status = await handle.query(DossierWorkflow.status)
    assert (status.state, status.completed_steps, status.next_action_at) == ("idle", 0, None)




async def test_a_dossier_carried_over_continue_as_new_resumes_at_its_next_step(
    time_skipping_env, pool, worker, scenario_3_and_10
):
    """Continue-as-new bounds the history: the new run starts from the carried state
    (steps done, scenario version pinned, events seen), not from the first step."""
    env = time_skipping_env
    due = (await env.get_current_time()).astimezone(PARIS).date() + timedelta(days=1)
    client_id, dossier_id, code = await seed_dossier(pool, [(due, Decimal("120.00"))], scenario_3_and_10)
    seen = str(uuid4())
    handle = await env.client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(
            dossier_id=dossier_id, client_id=client_id, client_code=code,
            dossier_task_queue=worker.dossier,
            scenario_code=scenario_3_and_10, scenario_version=1, completed_steps=1,
            previous_completed_at=datetime.combine(due + timedelta(days=3), datetime.min.time().replace(hour=8), PARIS),
            seen_event_ids=[seen],
        ),
        id=dossier_workflow_id(dossier_id), task_queue=worker.workflows,
    )
    day10 = datetime.combine(due + timedelta(days=10), datetime.min.time().replace(hour=8), PARIS)
    await _advance_to(env, day10)

    async def opened():
        rows = await _interventions(pool, dossier_id)
        return rows or None

    rows = await _eventually(opened)
    assert [(r["step_index"], r["due_at"]) for r in rows] == [(1, day10)]  # step 0 is not redone
    # An event the previous run had already applied is still recognised.
    await handle.signal(DossierWorkflow.items_changed, ItemsChanged(event_id=seen))
    status = await handle.query(DossierWorkflow.status)
    assert status.completed_steps == 1
