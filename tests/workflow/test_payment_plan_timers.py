"""Payment plans and holds on the time-skipping server (F-37).

Each instalment is judged at the first business hour after its due day: paid (what the
plan's items were paid since it started covers the instalments due so far) → the next one;
missed → checked again after the grace period; still missed → the plan is broken, its
items are back in the scenario and the collector has a follow-up call on the dossier.
While a plan holds its items are not dunned; a hold postpones the scenario's steps to its
end, and lifting it resumes them."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from relance.contracts.dossier import DossierWorkflowInput, ItemsChanged
from relance.contracts.payment_plan import PaymentPlanWorkflowInput, PlanCancelled
from relance.planning import eligible_items
from relance.workflow_ids import dossier_workflow_id, payment_plan_workflow_id
from relance_dossier.activities.dossier import chaseable_items
from relance_dossier.persistence.agenda import actions_due
from relance_workflow.workflows.dossier import DossierWorkflow
from relance_workflow.workflows.payment_plan import PaymentPlanWorkflow
from tests.workflow.conftest import seed_dossier, workers

PARIS = ZoneInfo("Europe/Paris")
GRACE_DAYS = 5


@pytest.fixture(scope="module")
async def worker(time_skipping_env, pool, stack):
    async with workers(time_skipping_env.client, pool, "plans") as queues:
        yield queues


@pytest.fixture(scope="module")
async def scenario_email_3(pool):
    """One automatic email 3 days after the earliest due date of the chased items."""
    code = f"plan3-{uuid4().hex[:6]}"
    steps = [{"action_type": "email", "delay_days": 3, "delay_from": "due_date",
              "template_code": "relance-email-1", "mode": "automatic"}]
    await pool.execute(
        "INSERT INTO scenarios (code, version, name, steps) VALUES ($1, 1, $1, $2)", code, steps)
    return code


def check_moment(due: date) -> datetime:
    """An instalment is judged at 08:00 (Paris) the day after its due date."""
    return datetime.combine(due + timedelta(days=1), time(8), PARIS)


async def _today(env) -> date:
    return (await env.get_current_time()).astimezone(PARIS).date()


async def _advance_to(env, moment: datetime) -> None:
    delta = moment - await env.get_current_time()
    if delta > timedelta(0):
        await env.sleep(delta)


async def _eventually(check, attempts: int = 100):
    import asyncio

    for _ in range(attempts):
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    return await check()


async def seed_plan(pool, client_id: UUID, dossier_id: UUID, item_ids: list[UUID],
                    instalments: list[tuple[date, str]]) -> UUID:
    """A plan as the dossier API writes it (without its outbox event, so only this test's
    workflow watches it)."""
    plan_id = uuid4()
    total = sum(Decimal(a) for _, a in instalments)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO payment_plans (id, client_id, dossier_id, currency, total_amount,"
            " created_by) VALUES ($1, $2, $3, 'EUR', $4, 'user:test')",
            plan_id, client_id, dossier_id, total)
        await conn.execute(
            "INSERT INTO payment_plan_items (plan_id, item_id, open_amount_at_start)"
            " SELECT $1, id, open_amount FROM items WHERE id = ANY($2::uuid[])", plan_id, item_ids)
        await conn.executemany(
            "INSERT INTO payment_plan_instalments (plan_id, seq, due_date, amount)"
            " VALUES ($1, $2, $3, $4::numeric)",
            [(plan_id, n, d, a) for n, (d, a) in enumerate(instalments, start=1)])
    return plan_id


async def _items(pool, dossier_id) -> list[UUID]:
    return [r["id"] for r in await pool.fetch(
        "SELECT id FROM items WHERE dossier_id = $1 ORDER BY number", dossier_id)]


async def _pay(pool, item_id: UUID, amount: str) -> None:
    """A payment arrives (import / ERP update): the item's open amount goes down."""
    await pool.execute("UPDATE items SET open_amount = open_amount - $2::numeric WHERE id = $1",
                       item_id, Decimal(amount))


async def _plan(pool, plan_id):
    return await pool.fetchrow("SELECT state, follow_up_id FROM payment_plans WHERE id = $1", plan_id)


async def _instalment_states(pool, plan_id) -> list[str]:
    return [r["state"] for r in await pool.fetch(
        "SELECT state FROM payment_plan_instalments WHERE plan_id = $1 ORDER BY seq", plan_id)]


async def _start_plan(env, worker, plan_id, client_id, dossier_id):
    return await env.client.start_workflow(
        PaymentPlanWorkflow.run,
        PaymentPlanWorkflowInput(plan_id=plan_id, client_id=client_id, dossier_id=dossier_id,
                                 grace_days=GRACE_DAYS, dossier_task_queue=worker.dossier),
        id=payment_plan_workflow_id(plan_id), task_queue=worker.workflows,
    )


async def test_f37_plan_kept_to_completion(time_skipping_env, pool, worker) -> None:
    env = time_skipping_env
    today = await _today(env)
    client_id, dossier_id, _ = await seed_dossier(
        pool, [(today - timedelta(days=40), Decimal("600.00")),
               (today - timedelta(days=20), Decimal("400.00"))])
    first, second = await _items(pool, dossier_id)
    d1, d2 = today + timedelta(days=3), today + timedelta(days=10)
    plan_id = await seed_plan(pool, client_id, dossier_id, [first, second],
                              [(d1, "500.00"), (d2, "500.00")])
    handle = await _start_plan(env, worker, plan_id, client_id, dossier_id)

    await env.sleep(timedelta(days=2))
    await _pay(pool, first, "500.00")
    await _advance_to(env, check_moment(d1) + timedelta(minutes=1))
    assert await _eventually(lambda: _first_paid(pool, plan_id))
    assert (await _plan(pool, plan_id))["state"] == "active"
    assert (await handle.query(PaymentPlanWorkflow.status)).instalments_paid == 1

    # The rest is paid over both items before the second date.
    await _pay(pool, first, "100.00")
    await _pay(pool, second, "400.00")
    await _advance_to(env, check_moment(d2) + timedelta(minutes=1))
    assert await handle.result() == "completed"
    assert (await _plan(pool, plan_id))["state"] == "completed"
    assert await _instalment_states(pool, plan_id) == ["paid", "paid"]


async def _first_paid(pool, plan_id):
    states = await _instalment_states(pool, plan_id)
    return states if states[0] == "paid" else None


async def test_f37_missed_instalment_paid_within_grace_keeps_the_plan(
    time_skipping_env, pool, worker
) -> None:
    env = time_skipping_env
    today = await _today(env)
    client_id, dossier_id, _ = await seed_dossier(
        pool, [(today - timedelta(days=30), Decimal("900.00"))])
    (item,) = await _items(pool, dossier_id)
    d1, d2 = today + timedelta(days=1), today + timedelta(days=31)
    plan_id = await seed_plan(pool, client_id, dossier_id, [item], [(d1, "300.00"), (d2, "600.00")])
    handle = await _start_plan(env, worker, plan_id, client_id, dossier_id)

    # Nothing paid at the first date: missed, the grace period starts.
    await _advance_to(env, check_moment(d1) + timedelta(minutes=1))
    assert await _eventually(lambda: _missed(pool, plan_id))
    assert (await handle.query(PaymentPlanWorkflow.status)).state == "grace"
    # Paid on the third day of grace (a partial payment that covers the instalment).
    await env.sleep(timedelta(days=3))
    await _pay(pool, item, "300.00")
    await env.sleep(timedelta(days=GRACE_DAYS - 3, minutes=1))
    assert await _eventually(lambda: _first_paid(pool, plan_id))
    assert (await _plan(pool, plan_id))["state"] == "active"
    assert (await handle.query(PaymentPlanWorkflow.status)).state == "watching"
    assert await pool.fetchval(
        "SELECT count(*) FROM interventions WHERE dossier_id = $1", dossier_id) == 0

    # A cancellation (the bridge's signal on `payment_plan.cancelled`) ends the watch.
    await pool.execute("UPDATE payment_plans SET state = 'cancelled' WHERE id = $1", plan_id)
    await handle.signal(PaymentPlanWorkflow.cancelled, PlanCancelled(event_id=str(uuid4())))
    assert await handle.result() == "cancelled"


async def _missed(pool, plan_id):
    states = await _instalment_states(pool, plan_id)
    return states if states[0] == "missed" else None


async def test_f37_instalment_missed_beyond_grace_breaks_the_plan_items_back_and_a_call_for_the_collector(
    time_skipping_env, pool, worker
) -> None:
    env = time_skipping_env
    today = await _today(env)
    client_id, dossier_id, code = await seed_dossier(
        pool, [(today - timedelta(days=30), Decimal("500.00")),
               (today - timedelta(days=30), Decimal("250.00"))])
    first, second = await _items(pool, dossier_id)
    d1 = today + timedelta(days=2)
    plan_id = await seed_plan(pool, client_id, dossier_id, [first, second],
                              [(d1, "250.00"), (d1 + timedelta(days=30), "500.00")])
    # The dossier's scenario is over: it only tracks what is To do.
    dossier = await env.client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(dossier_id=dossier_id, client_id=client_id, client_code=code,
                             completed_steps=99, dossier_task_queue=worker.dossier),
        id=dossier_workflow_id(dossier_id), task_queue=worker.workflows,
    )
    handle = await _start_plan(env, worker, plan_id, client_id, dossier_id)
    # While the plan holds, its items are out of the scenario.
    async with pool.acquire() as conn:
        assert eligible_items(await chaseable_items(conn, client_id, dossier_id)) == []

    await _pay(pool, first, "100.00")  # short of the 250 due
    await _advance_to(env, check_moment(d1) + timedelta(days=GRACE_DAYS) - timedelta(minutes=1))
    assert (await _plan(pool, plan_id))["state"] == "active"  # still within grace
    await env.sleep(timedelta(minutes=2))
    assert await handle.result() == "broken"

    plan = await _plan(pool, plan_id)
    assert plan["state"] == "broken" and plan["follow_up_id"] is not None
    follow_up = await pool.fetchrow(
        "SELECT origin, action_type, status, details FROM interventions WHERE id = $1",
        plan["follow_up_id"])
    assert (follow_up["origin"], follow_up["action_type"], follow_up["status"]) == (
        "plan_follow_up", "call", "todo")
    assert sorted(follow_up["details"]["item_ids"]) == sorted([str(first), str(second)])
    # The items are back in the scenario ...
    async with pool.acquire() as conn:
        back = {i.item_id for i in eligible_items(await chaseable_items(conn, client_id, dossier_id))}
    assert back == {str(first), str(second)}
    # ... the call is in the actions due for the client (the collector's agenda) ...
    async with pool.acquire() as conn:
        due = await actions_due(conn, order_by="due_at", collector_id=None, client_code=code,
                                action_type=None, due_before=None, kind=None,
                                visible_to_collectors=None, limit=10, offset=0)
    assert [(a["id"], a["origin"], a["label"]) for a in due] == [
        (plan["follow_up_id"], "plan_follow_up", "Échéancier non respecté")]
    # ... and the dossier holds the collector's call To do (Done / Skip go through it).
    status = await _eventually(lambda: _open_interventions(dossier, 1))
    assert status.open_interventions == 1


async def _open_interventions(handle, n):
    status = await handle.query(DossierWorkflow.status)
    return status if status.open_interventions == n else None


async def _scenario_interventions(pool, dossier_id):
    return await pool.fetch(
        "SELECT id, due_at, details FROM interventions WHERE dossier_id = $1"
        " AND origin = 'scenario' ORDER BY created_at", dossier_id)


async def test_f37_plan_items_are_not_dunned_while_the_plan_holds(
    time_skipping_env, pool, worker, scenario_email_3
) -> None:
    env = time_skipping_env
    due = await _today(env) + timedelta(days=1)
    client_id, dossier_id, code = await seed_dossier(
        pool, [(due, Decimal("700.00")), (due, Decimal("90.00"))], scenario_email_3)
    in_plan, outside = await _items(pool, dossier_id)
    await seed_plan(pool, client_id, dossier_id, [in_plan],
                    [(due + timedelta(days=20), "700.00")])
    await env.client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(dossier_id=dossier_id, client_id=client_id, client_code=code,
                             dossier_task_queue=worker.dossier),
        id=dossier_workflow_id(dossier_id), task_queue=worker.workflows,
    )
    await _advance_to(env, datetime.combine(due + timedelta(days=3), time(8, 1), PARIS))
    (step,) = await _eventually(lambda: _scenario_interventions(pool, dossier_id))
    assert step["details"]["item_ids"] == [str(outside)]
    command = await pool.fetchval(
        "SELECT event FROM outbox WHERE event_type = 'communication.requested'"
        " AND event->'payload'->>'intervention_id' = $1", str(step["id"]))
    assert [i["number"] for i in command["payload"]["items"]] == ["F-1"]  # not F-0, in the plan


async def _hold(pool, handle, client_id, until: date | None) -> None:
    """What the hold API writes, and the re-plan the bridge asks on `dossier.hold_changed`."""
    await pool.execute("UPDATE clients SET hold_until = $2 WHERE id = $1", client_id, until)
    await handle.signal(DossierWorkflow.items_changed, ItemsChanged(event_id=str(uuid4())))


async def test_f37_a_hold_postpones_the_step_to_its_end(
    time_skipping_env, pool, worker, scenario_email_3
) -> None:
    env = time_skipping_env
    due = await _today(env) + timedelta(days=1)
    client_id, dossier_id, code = await seed_dossier(pool, [(due, Decimal("120.00"))],
                                                     scenario_email_3)
    handle = await env.client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(dossier_id=dossier_id, client_id=client_id, client_code=code,
                             dossier_task_queue=worker.dossier),
        id=dossier_workflow_id(dossier_id), task_queue=worker.workflows,
    )
    until = due + timedelta(days=10)
    await _hold(pool, handle, client_id, until)
    resumes = datetime.combine(until, time(8), PARIS)
    status = await _eventually(lambda: _next_action_at(handle, resumes))
    assert status.next_action_at == resumes

    await _advance_to(env, resumes - timedelta(seconds=1))
    assert await _scenario_interventions(pool, dossier_id) == []  # the step's day 3 has passed
    await env.sleep(timedelta(seconds=2))
    (step,) = await _eventually(lambda: _scenario_interventions(pool, dossier_id))
    assert step["due_at"] == resumes


async def _next_action_at(handle, moment: datetime):
    status = await handle.query(DossierWorkflow.status)
    return status if status.next_action_at == moment else None


async def test_f37_lifting_a_hold_resumes_the_scenario(
    time_skipping_env, pool, worker, scenario_email_3
) -> None:
    env = time_skipping_env
    due = await _today(env) + timedelta(days=1)
    client_id, dossier_id, code = await seed_dossier(pool, [(due, Decimal("75.00"))],
                                                     scenario_email_3)
    handle = await env.client.start_workflow(
        DossierWorkflow.run,
        DossierWorkflowInput(dossier_id=dossier_id, client_id=client_id, client_code=code,
                             dossier_task_queue=worker.dossier),
        id=dossier_workflow_id(dossier_id), task_queue=worker.workflows,
    )
    await _hold(pool, handle, client_id, due + timedelta(days=30))
    await _advance_to(env, datetime.combine(due + timedelta(days=5), time(8), PARIS))
    assert await _scenario_interventions(pool, dossier_id) == []  # held past the step's day 3
    await _hold(pool, handle, client_id, None)
    (step,) = await _eventually(lambda: _scenario_interventions(pool, dossier_id))
    # The step was due on day 3: it opens at once, with its own due moment.
    assert step["due_at"] == datetime.combine(due + timedelta(days=3), time(8), PARIS)
