"""Issue 10: an unknown scenario code (or no default scenario) no longer fails the dossier
workflow for good (F-9): planning failure is a visible `needs_attention` state with the
reason, and the dossier recovers on its own once the data is fixed."""

from datetime import date, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from temporalio.client import WorkflowExecutionStatus

from relance.contracts.dossier import DossierWorkflowInput, ItemsChanged
from relance.workflow_ids import dossier_workflow_id
from relance_workflow.workflows.dossier import PLAN_RETRY, DossierWorkflow
from tests.workflow.conftest import seed_dossier, workers


@pytest.fixture(scope="module")
async def worker(time_skipping_env, pool, stack):
    async with workers(time_skipping_env.client, pool, "attention") as queues:
        yield queues


async def _eventually(check, attempts: int = 100):
    import asyncio
    for _ in range(attempts):
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    return await check()


async def test_an_unknown_scenario_is_needs_attention_then_recovers_when_fixed(
    time_skipping_env, pool, worker
):
    env = time_skipping_env
    missing = f"missing-{uuid4().hex[:6]}"
    client_id, dossier_id, code = await seed_dossier(
        pool, [(date.today() - timedelta(days=5), Decimal("120.00"))], missing)
    handle = await env.client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(dossier_id=dossier_id, client_id=client_id, client_code=code,
                             scenario_code=missing, dossier_task_queue=worker.dossier),
        id=dossier_workflow_id(dossier_id), task_queue=worker.workflows,
    )

    async def attention():
        status = await handle.query(DossierWorkflow.status)
        return status if status.state == "needs_attention" else None

    status = await _eventually(attention)
    assert status is not None and missing in (status.problem or "")
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING

    # The collector's manager creates the missing scenario: the next try plans it.
    await pool.execute(
        "INSERT INTO scenarios (code, version, name, steps) VALUES ($1, 1, $1, $2)", missing,
        [{"action_type": "call", "delay_days": 0, "mode": "manual"}])
    await env.sleep(PLAN_RETRY + timedelta(seconds=1))

    async def opened():
        return await pool.fetchval(
            "SELECT count(*) FROM interventions WHERE dossier_id = $1 AND status = 'todo'", dossier_id)

    assert await _eventually(opened) == 1
    status = await handle.query(DossierWorkflow.status)
    assert (status.state, status.problem) == ("awaiting", None)


async def test_a_client_given_a_valid_scenario_recovers_at_the_next_item_event(
    time_skipping_env, pool, worker
):
    env = time_skipping_env
    good = f"good-{uuid4().hex[:6]}"
    await pool.execute(
        "INSERT INTO scenarios (code, version, name, steps) VALUES ($1, 1, $1, $2)", good,
        [{"action_type": "call", "delay_days": 0, "mode": "manual"}])
    client_id, dossier_id, code = await seed_dossier(
        pool, [(date.today() - timedelta(days=5), Decimal("120.00"))], "NO-SUCH")
    handle = await env.client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(dossier_id=dossier_id, client_id=client_id, client_code=code,
                             scenario_code="NO-SUCH", dossier_task_queue=worker.dossier),
        id=dossier_workflow_id(dossier_id), task_queue=worker.workflows,
    )

    async def attention():
        return (await handle.query(DossierWorkflow.status)).state == "needs_attention"

    assert await _eventually(attention)
    await pool.execute("UPDATE clients SET scenario_code = $1 WHERE id = $2", good, client_id)
    await handle.signal(DossierWorkflow.items_changed, ItemsChanged(event_id=str(uuid4())))

    async def opened():
        return await pool.fetchval(
            "SELECT count(*) FROM interventions WHERE dossier_id = $1 AND status = 'todo'", dossier_id)

    assert await _eventually(opened) == 1
