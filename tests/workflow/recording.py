"""Record real histories of the dossier, specific action and payment plan workflows on the Temporal
dev server — Updates included, which the time-skipping server lacks — for replay tests.

`RECORD_HISTORIES=1 pytest tests/workflow/test_replay.py` rewrites the saved files; do
it only when a change to a workflow is meant to be incompatible (and then version it)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import asyncpg
from temporalio.client import Client, WorkflowHistory

from relance.contracts.action import ActionCommand, ActionWorkflowInput
from relance.contracts.dossier import (
    DossierWorkflowInput,
    InterventionCommand,
    InterventionDeletion,
    ItemsChanged,
    NewIntervention,
)
from relance.contracts.payment_plan import PaymentPlanWorkflowInput, PlanCancelled
from relance.workflow_ids import action_workflow_id, dossier_workflow_id, payment_plan_workflow_id
from relance_workflow.workflows.action import ActionWorkflow
from relance_workflow.workflows.dossier import DossierWorkflow
from relance_workflow.workflows.payment_plan import PaymentPlanWorkflow
from tests.workflow.conftest import Queues, seed_dossier, workers

HISTORIES = Path(__file__).parent / "histories"


async def _until(check, timeout: float = 30):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met while recording")
        await asyncio.sleep(0.1)
    return result


async def record_dossier(client: Client, pool: asyncpg.Pool, queues: Queues) -> WorkflowHistory:
    """A manual call step; the collector creates an alert and a promise, prepares and
    closes the call, deletes the alert; an item event arrives twice."""
    scenario = f"replay-{uuid4().hex[:6]}"
    await pool.execute(
        "INSERT INTO scenarios (code, version, name, steps) VALUES ($1, 1, $1, $2)", scenario,
        [{"action_type": "call", "delay_days": 0, "mode": "manual"},
         {"action_type": "call", "delay_days": 20, "delay_from": "previous_step", "mode": "manual"}],
    )
    client_id, dossier_id, code = await seed_dossier(
        pool, [(date.today() - timedelta(days=3), Decimal("90.00"))], scenario)
    handle = await client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(dossier_id=dossier_id, client_id=client_id, client_code=code,
                             dossier_task_queue=queues.dossier),
        id=dossier_workflow_id(dossier_id), task_queue=queues.workflows,
    )
    call_id = await _until(lambda: pool.fetchval(
        "SELECT id FROM interventions WHERE dossier_id = $1 AND status = 'todo'", dossier_id))
    alert_id, promise_id = uuid4(), uuid4()
    await handle.execute_update(DossierWorkflow.create, NewIntervention(
        intervention_id=alert_id, actor="user:replay", kind="alert",
        due_at=datetime.now(UTC) + timedelta(days=1)))
    await handle.execute_update(DossierWorkflow.create, NewIntervention(
        intervention_id=promise_id, actor="user:replay", kind="promise",
        due_at=datetime.now(UTC), promise_amount="90.00",
        promise_date=date.today() + timedelta(days=10)))
    await handle.execute_update(DossierWorkflow.prepare, InterventionCommand(
        intervention_id=call_id, actor="user:replay"))
    await handle.execute_update(DossierWorkflow.done, InterventionCommand(
        intervention_id=call_id, actor="user:replay", comment="joint"))
    await handle.execute_update(DossierWorkflow.delete, InterventionDeletion(
        intervention_id=alert_id, actor="user:replay", confirm=True))
    event_id = str(uuid4())
    await handle.signal(DossierWorkflow.items_changed, ItemsChanged(event_id=event_id))
    await handle.signal(DossierWorkflow.items_changed, ItemsChanged(event_id=event_id))
    await handle.query(DossierWorkflow.status)
    history = await handle.fetch_history()
    await handle.terminate("recorded")
    return history


async def record_action(client: Client, pool: asyncpg.Pool, queues: Queues) -> WorkflowHistory:
    """A manual specific action due in 2 seconds, done by a collector."""
    client_id, dossier_id, _ = await seed_dossier(pool, [(date.today(), Decimal("40.00"))])
    action_id, due_at = uuid4(), datetime.now(UTC) + timedelta(seconds=2)
    await pool.execute(
        "INSERT INTO specific_actions (id, client_id, dossier_id, action_type, mode, due_at,"
        " created_by) VALUES ($1, $2, $3, 'call', 'manual', $4, 'user:replay')",
        action_id, client_id, dossier_id, due_at)
    await pool.execute("INSERT INTO specific_action_items SELECT $1, id FROM items"
                       " WHERE dossier_id = $2", action_id, dossier_id)
    handle = await client.start_workflow(
        ActionWorkflow.run,
        ActionWorkflowInput(action_id=action_id, client_id=client_id, dossier_id=dossier_id,
                            due_at=due_at, mode="manual", dossier_task_queue=queues.dossier),
        id=action_workflow_id(action_id), task_queue=queues.workflows,
    )
    await _until(lambda: pool.fetchval(
        "SELECT status = 'todo' FROM specific_actions WHERE id = $1", action_id))
    await handle.execute_update(ActionWorkflow.done, ActionCommand(actor="user:replay", comment="fait"))
    assert await handle.result() == "done"
    return await handle.fetch_history()


async def record_payment_plan(client: Client, pool: asyncpg.Pool, queues: Queues) -> WorkflowHistory:
    """F-37: a payment plan whose workflow reads its schedule, waits for its first
    instalment and is cancelled by a collector (the bridge's signal, delivered twice)."""
    client_id, dossier_id, _ = await seed_dossier(pool, [(date.today(), Decimal("60.00"))])
    plan_id = uuid4()
    await pool.execute(
        "INSERT INTO payment_plans (id, client_id, dossier_id, currency, total_amount, created_by)"
        " VALUES ($1, $2, $3, 'EUR', 60, 'user:replay')", plan_id, client_id, dossier_id)
    await pool.execute("INSERT INTO payment_plan_items SELECT $1, id, open_amount FROM items"
                       " WHERE dossier_id = $2", plan_id, dossier_id)
    await pool.execute(
        "INSERT INTO payment_plan_instalments (plan_id, seq, due_date, amount) VALUES"
        " ($1, 1, $2, 30), ($1, 2, $3, 30)",
        plan_id, date.today() + timedelta(days=10), date.today() + timedelta(days=40))
    handle = await client.start_workflow(
        PaymentPlanWorkflow.run,
        PaymentPlanWorkflowInput(plan_id=plan_id, client_id=client_id, dossier_id=dossier_id,
                                 dossier_task_queue=queues.dossier),
        id=payment_plan_workflow_id(plan_id), task_queue=queues.workflows,
    )

    async def watching():
        return (await handle.query(PaymentPlanWorkflow.status)).next_check_at is not None

    await _until(watching)
    await pool.execute("UPDATE payment_plans SET state = 'cancelled' WHERE id = $1", plan_id)
    event_id = str(uuid4())
    await handle.signal(PaymentPlanWorkflow.cancelled, PlanCancelled(event_id=event_id))
    await handle.signal(PaymentPlanWorkflow.cancelled, PlanCancelled(event_id=event_id))
    assert await handle.result() == "cancelled"
    return await handle.fetch_history()


async def record_all(client: Client, pool: asyncpg.Pool) -> dict[str, WorkflowHistory]:
    async with workers(client, pool, "replay") as queues:
        return {
            "dossier": await record_dossier(client, pool, queues),
            "action": await record_action(client, pool, queues),
            "payment_plan": await record_payment_plan(client, pool, queues),
        }
