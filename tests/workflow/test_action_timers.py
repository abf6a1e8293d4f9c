"""Timers of specific actions and promises to pay on the time-skipping server.

F-20: an action dated in 5 days whose items are paid on day 4 is deleted on day 5, with an
audit entry; one whose items are still open runs on day 5 and not before (F-17).
F-12: a promise to pay is kept when its items are paid by its date, broken otherwise
(with a follow-up intervention for the collector)."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from relance import search_attributes
from relance.workflow_ids import action_workflow_id, dossier_workflow_id
from relance.contracts.action import ActionWorkflowInput
from relance.contracts.dossier import DossierWorkflowInput, OpenIntervention, PendingPromise
from relance_workflow.domain.interventions import promise_check_moment
from relance_workflow.workflows.action import ActionWorkflow
from relance_workflow.workflows.dossier import DossierWorkflow
from tests.workflow.conftest import seed_dossier, workers

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
async def worker(time_skipping_env, pool, stack):
    async with workers(time_skipping_env.client, pool, "actions") as queues:
        yield queues


async def seed_action(pool, client_id: UUID, dossier_id: UUID, due_at: datetime, mode: str,
                      action_type: str = "email") -> UUID:
    """A specific action on every item of the dossier, as the dossier API writes it."""
    action_id = uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO specific_actions (id, client_id, dossier_id, action_type, mode,"
            " template_code, due_at, created_by) VALUES ($1,$2,$3,$4,$5,'relance-email-1',$6,"
            " 'user:test')", action_id, client_id, dossier_id, action_type, mode, due_at,
        )
        await conn.execute(
            "INSERT INTO specific_action_items (action_id, item_id)"
            " SELECT $1, id FROM items WHERE dossier_id = $2", action_id, dossier_id,
        )
    return action_id


async def _action(pool, action_id):
    return await pool.fetchrow("SELECT status FROM specific_actions WHERE id = $1", action_id)


async def test_f20_action_in_5_days_whose_items_are_paid_on_day_4_is_deleted_on_day_5(
    time_skipping_env, pool, worker
):
    env = time_skipping_env
    now = await env.get_current_time()
    client_id, dossier_id, _ = await seed_dossier(pool, [(now.date(), Decimal("300.00"))])
    due_at = now + timedelta(days=5)
    action_id = await seed_action(pool, client_id, dossier_id, due_at, "automatic")
    handle = await env.client.start_workflow(
        ActionWorkflow.run,
        ActionWorkflowInput(action_id=action_id, client_id=client_id, dossier_id=dossier_id,
                            dossier_task_queue=worker.dossier, due_at=due_at, mode="automatic"),
        id=action_workflow_id(action_id), task_queue=worker.workflows,
    )
    await env.sleep(timedelta(days=4))
    # Day 4: the client pays everything.
    await pool.execute("UPDATE items SET open_amount = 0 WHERE dossier_id = $1", dossier_id)
    assert (await _action(pool, action_id))["status"] == "scheduled"
    await env.sleep(timedelta(days=1))

    assert await handle.result() == "deleted"
    assert (await _action(pool, action_id))["status"] == "deleted"
    audit = await pool.fetchrow(
        "SELECT actor, action, comment FROM audit_log WHERE entity = 'specific_action'"
        " AND entity_id = $1", str(action_id),
    )
    assert (audit["actor"], audit["action"]) == ("workflow", "delete")
    assert "settled" in audit["comment"]
    # Nothing was sent to the client.
    assert await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE event_type = 'communication.requested'"
        " AND event->'payload'->>'client_id' = $1", str(client_id)) == 0


async def test_f17_automatic_action_with_open_items_is_sent_on_its_date_not_before(
    time_skipping_env, pool, worker
):
    env = time_skipping_env
    now = await env.get_current_time()
    client_id, dossier_id, _ = await seed_dossier(
        pool, [(now.date(), Decimal("120.00")), (now.date(), Decimal("80.00"))])
    due_at = now + timedelta(days=5)
    action_id = await seed_action(pool, client_id, dossier_id, due_at, "automatic")
    handle = await env.client.start_workflow(
        ActionWorkflow.run,
        ActionWorkflowInput(action_id=action_id, client_id=client_id, dossier_id=dossier_id,
                            dossier_task_queue=worker.dossier, due_at=due_at, mode="automatic"),
        id=action_workflow_id(action_id), task_queue=worker.workflows,
    )
    await env.sleep(timedelta(days=5) - timedelta(seconds=1))
    assert (await _action(pool, action_id))["status"] == "scheduled"
    await env.sleep(timedelta(seconds=1))
    assert await handle.result() == "sent"
    command = await pool.fetchval(
        "SELECT event FROM outbox WHERE event_type = 'communication.requested'"
        " AND event->'payload'->>'client_id' = $1", str(client_id))
    assert command is not None
    # F-18: the command carries the action's items only; the tags are rendered from them.
    assert sorted(i["open_amount"] for i in command["payload"]["items"]) == ["120.00", "80.00"]


async def test_f17_to_confirm_action_waits_for_a_collector_on_its_date(
    time_skipping_env, pool, worker
):
    env = time_skipping_env
    now = await env.get_current_time()
    client_id, dossier_id, code = await seed_dossier(pool, [(now.date(), Decimal("50.00"))])
    due_at = (now + timedelta(days=2)).replace(microsecond=0)
    action_id = await seed_action(pool, client_id, dossier_id, due_at, "automatic_to_confirm")
    handle = await env.client.start_workflow(
        ActionWorkflow.run,
        ActionWorkflowInput(action_id=action_id, client_id=client_id, dossier_id=dossier_id,
                            dossier_task_queue=worker.dossier, due_at=due_at,
                            mode="automatic_to_confirm", client_code=code,
                            collector_code="K-TEMPORAL-UI"),
        id=action_workflow_id(action_id), task_queue=worker.workflows,
    )
    await env.sleep(timedelta(days=1))
    # The Temporal UI answers "what is due, and when, for collector X" (codes only).
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(search_attributes.COLLECTOR) == "K-TEMPORAL-UI"
    assert attributes.get(search_attributes.CLIENT_CODE) == code
    assert attributes.get(search_attributes.NEXT_ACTION_AT) == due_at
    await env.sleep(timedelta(days=2))
    assert (await _action(pool, action_id))["status"] == "awaiting_confirmation"
    assert (await handle.query(ActionWorkflow.status)).status == "awaiting_confirmation"


async def _seed_promise(pool, client_id, dossier_id, promise_date: date) -> UUID:
    intervention_id = uuid4()
    item_ids = [str(r["id"]) for r in await pool.fetch(
        "SELECT id FROM items WHERE dossier_id = $1", dossier_id)]
    await pool.execute(
        "INSERT INTO interventions (id, dossier_id, client_id, origin, action_type, mode,"
        " due_at, details, promise_amount, promise_date, created_by) VALUES ($1,$2,$3,"
        " 'promise','internal_task','manual',$4,$5,300,$6,'user:test')",
        intervention_id, dossier_id, client_id,
        datetime.combine(promise_date, datetime.min.time(), PARIS),
        {"item_ids": item_ids}, promise_date,
    )
    return intervention_id


async def _start_dossier_with_promise(env, worker, client_id, dossier_id, code, promise_id,
                                      promise_date):
    """A dossier whose scenario is over, holding one pending promise (the state an
    Update `create` leaves behind)."""
    return await env.client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(
            dossier_id=dossier_id, client_id=client_id, client_code=code, completed_steps=99,
            dossier_task_queue=worker.dossier,
            open_interventions=[OpenIntervention(intervention_id=promise_id, origin="promise",
                                                 action_type="internal_task")],
            promises=[PendingPromise(intervention_id=promise_id,
                                     check_at=promise_check_moment(promise_date))],
        ),
        id=dossier_workflow_id(dossier_id), task_queue=worker.workflows,
    )


async def _interventions(pool, dossier_id):
    return await pool.fetch(
        "SELECT id, origin, status, outcome FROM interventions WHERE dossier_id = $1"
        " ORDER BY created_at", dossier_id)


async def _closed(pool, dossier_id):
    rows = await _interventions(pool, dossier_id)
    return rows if rows and rows[0]["status"] == "done" else None


async def _count(pool, dossier_id, n):
    rows = await _interventions(pool, dossier_id)
    return rows if len(rows) == n else None


async def _eventually(check, attempts: int = 100):
    import asyncio

    for _ in range(attempts):
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    return await check()


async def test_f12_promise_paid_by_its_date_is_kept(time_skipping_env, pool, worker):
    env = time_skipping_env
    today = (await env.get_current_time()).astimezone(PARIS).date()
    client_id, dossier_id, code = await seed_dossier(pool, [(today, Decimal("300.00"))])
    promise_date = today + timedelta(days=7)
    promise_id = await _seed_promise(pool, client_id, dossier_id, promise_date)
    handle = await _start_dossier_with_promise(env, worker, client_id, dossier_id, code,
                                               promise_id, promise_date)
    await env.sleep(timedelta(days=6))
    await pool.execute("UPDATE items SET open_amount = 0 WHERE dossier_id = $1", dossier_id)
    # Past the check moment whatever the hour the test starts at (between 23:00 and
    # midnight UTC, Paris is already on the next day).
    await env.sleep(promise_check_moment(promise_date) - await env.get_current_time()
                    + timedelta(seconds=1))
    rows = await _eventually(lambda: _closed(pool, dossier_id))
    assert [(r["origin"], r["status"], r["outcome"]) for r in rows] == [("promise", "done", "kept")]


async def test_f12_promise_unpaid_at_its_date_is_broken_with_a_follow_up(
    time_skipping_env, pool, worker
):
    env = time_skipping_env
    today = (await env.get_current_time()).astimezone(PARIS).date()
    client_id, dossier_id, code = await seed_dossier(pool, [(today, Decimal("300.00"))])
    promise_date = today + timedelta(days=7)
    promise_id = await _seed_promise(pool, client_id, dossier_id, promise_date)
    handle = await _start_dossier_with_promise(env, worker, client_id, dossier_id, code,
                                               promise_id, promise_date)
    # On the promise's last day it is still open: not judged yet.
    await env.sleep(promise_check_moment(promise_date) - await env.get_current_time()
                    - timedelta(seconds=1))
    assert [r["status"] for r in await _interventions(pool, dossier_id)] == ["todo"]
    await env.sleep(timedelta(seconds=2))
    await _eventually(lambda: _closed(pool, dossier_id))
    rows = await _eventually(lambda: _count(pool, dossier_id, 2))
    assert [(r["origin"], r["status"], r["outcome"]) for r in rows] == [
        ("promise", "done", "broken"), ("promise_follow_up", "todo", None)]
    status = await handle.query(DossierWorkflow.status)
    assert status.open_interventions == 1  # the follow-up waits for the collector


async def test_dossier_search_attributes_say_what_is_due_when_for_which_collector(
    time_skipping_env, pool, worker
):
    """The Temporal UI answers "what is due tomorrow for collector X" from the dossier
    workflows' search attributes: codes, state and date only."""
    env = time_skipping_env
    today = (await env.get_current_time()).astimezone(PARIS).date()
    client_id, dossier_id, code = await seed_dossier(pool, [(today + timedelta(days=1), Decimal("10.00"))])
    collector = f"K-{uuid4().hex[:6]}"
    await pool.execute("INSERT INTO collectors (id, code, name) VALUES ($1, $2, $2)", uuid4(), collector)
    await pool.execute("UPDATE clients SET collector_id = (SELECT id FROM collectors WHERE code = $2)"
                       " WHERE id = $1", client_id, collector)
    handle = await env.client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(
            dossier_id=dossier_id, client_id=client_id, client_code=code,
            dossier_task_queue=worker.dossier,
        ),
        id=dossier_workflow_id(dossier_id), task_queue=worker.workflows,
    )

    async def scheduled():
        attributes = (await handle.describe()).typed_search_attributes
        return attributes if attributes.get(search_attributes.DOSSIER_STATE) == "scheduled" else None

    attributes = await _eventually(scheduled)
    # Its step would fire in a later test module, whose worker polls another task queue:
    # an activity nobody runs would hold the time-skipping clock.
    await handle.terminate("checked")
    assert attributes.get(search_attributes.CLIENT_CODE) == code
    assert attributes.get(search_attributes.COLLECTOR) == collector
    # The default scenario's first step: the due date's business hour (F-9).
    assert attributes.get(search_attributes.NEXT_ACTION_AT) == datetime.combine(
        today + timedelta(days=1), datetime.min.time().replace(hour=8), PARIS)
