"""The monthly late-fee run on the time-skipping server (F-38).

The workflow service keeps one run per dossier service. On LATE_FEE_RUN_DAY (the 1st) at
the business hour (08:00, Paris) it charges the fees owed up to that day to every client
whose policy has `auto_charge`, and nobody else: the recovery indemnity once per invoice,
and the interest of the days since the last day charged, so the next month charges only
that month's days."""

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from relance.workflow_ids import late_fee_run_workflow_id
from relance_dossier.domain.late_fees import next_late_fee_run
from relance_workflow.standing import ensure_late_fee_run
from relance_workflow.workflows.late_fee_run import LateFeeRunWorkflow
from tests.workflow.conftest import seed_dossier, workers
from tests.workflow.test_payment_plan_timers import _advance_to, _eventually


@pytest.fixture(scope="module")
async def worker(time_skipping_env, pool, stack):
    async with workers(time_skipping_env.client, pool, "latefees") as queues:
        yield queues


async def _policy(pool, client_code: str, *, enabled: bool, auto_charge: bool | None) -> None:
    await pool.execute(
        "INSERT INTO late_fee_policies (scope, scope_key, enabled, auto_charge, updated_by)"
        " VALUES ('client', $1, $2, $3, 'test')", client_code, enabled, auto_charge)


async def _fees(pool, client_id: UUID) -> dict[str, tuple[Decimal, str]]:
    rows = await pool.fetch(
        "SELECT i.number, i.amount, f.charged_by FROM items i"
        " JOIN late_fee_charges f ON f.item_id = i.id WHERE i.client_id = $1", client_id)
    return {r["number"]: (r["amount"], r["charged_by"]) for r in rows}


async def _status(env, worker):
    handle = env.client.get_workflow_handle(late_fee_run_workflow_id(worker.dossier))
    return await handle.query(LateFeeRunWorkflow.status)


async def test_f38_the_monthly_run_charges_the_fees_of_auto_charged_clients_only(
        time_skipping_env, pool, worker) -> None:
    env = time_skipping_env
    first_day, first_run = next_late_fee_run(await env.get_current_time(), 1, "Europe/Paris", 8)
    due = first_day - timedelta(days=40)
    auto_id, _, auto_code = await seed_dossier(pool, [(due, Decimal("1000.00"))])
    await _policy(pool, auto_code, enabled=True, auto_charge=True)
    by_hand_id, _, _ = await seed_dossier(pool, [(due, Decimal("1000.00"))])  # the defaults
    disabled_id, _, disabled_code = await seed_dossier(pool, [(due, Decimal("1000.00"))])
    await _policy(pool, disabled_code, enabled=False, auto_charge=True)

    await ensure_late_fee_run(env.client, task_queue=worker.workflows, dossier_task_queue=worker.dossier)
    # The service asks again at every start: the run already there keeps its schedule.
    await ensure_late_fee_run(env.client, task_queue=worker.workflows, dossier_task_queue=worker.dossier)
    status = await _eventually(lambda: _waiting_for(env, worker, first_day))
    assert status.next_run.at == first_run and status.last_run is None

    await _advance_to(env, first_run - timedelta(hours=1))
    assert await _fees(pool, auto_id) == {}

    await _advance_to(env, first_run + timedelta(minutes=1))
    # 1000.00 × 0.1215 × 40 / 365 = 13.3150… → 13.32, and the 40.00 indemnity.
    stamp = first_day.strftime("%Y%m%d")
    assert await _eventually(lambda: _fees(pool, auto_id)) == {
        "IND-F-0": (Decimal("40.00"), "late-fee-run"),
        f"INT-F-0-{stamp}": (Decimal("13.32"), "late-fee-run"),
    }
    assert await _fees(pool, by_hand_id) == {}
    assert await _fees(pool, disabled_id) == {}
    audit = await pool.fetchrow(
        "SELECT actor, comment FROM audit_log WHERE client_id = $1 AND action = 'charge_late_fees'",
        auto_id)
    assert audit["actor"] == "late-fee-run" and first_day.isoformat() in audit["comment"]

    second_day, second_run = next_late_fee_run(first_run, 1, "Europe/Paris", 8)
    status = await _eventually(lambda: _waiting_for(env, worker, second_day))
    assert status.last_run.on == first_day and status.last_run.fee_items >= 2
    eur = {t.currency: t.amount for t in status.last_run.totals}["EUR"]
    assert eur >= Decimal("53.32")

    await _advance_to(env, second_run + timedelta(minutes=1))
    # The next month: the interest of its days only, no second indemnity.
    days = (second_day - first_day).days
    interest = (Decimal("1000.00") * Decimal("0.1215") * days / 365).quantize(Decimal("0.01"))
    fees = await _eventually(lambda: _with_fees(pool, auto_id, 3))
    assert fees[f"INT-F-0-{second_day.strftime('%Y%m%d')}"] == (interest, "late-fee-run")
    assert sorted(fees) == sorted(["IND-F-0", f"INT-F-0-{stamp}",
                                   f"INT-F-0-{second_day.strftime('%Y%m%d')}"])


async def _waiting_for(env, worker, day):
    try:
        status = await _status(env, worker)
    except (RPCError, WorkflowQueryFailedError):
        return None  # its first task (or a new run's) not done yet
    return status if status.next_run is not None and status.next_run.on == day else None


async def _with_fees(pool, client_id: UUID, count: int):
    fees = await _fees(pool, client_id)
    return fees if len(fees) >= count else None
