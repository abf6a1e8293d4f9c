"""The transfer workflow's timers on the time-skipping server (F-28 … F-30): the placement
goes out exactly at the window end and not one second before; an agency that does not
answer a cancellation request within the set delay raises the overdue alert.

(The cancel Update is not supported by the time-skipping server: its immediate/request
paths run on the dev server in test_transfer_updates.py; the decision itself is a pure
function tested at window − 1 s and window + 0 s in tests/workflow/test_transfer_rules.py.)"""

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import asyncpg
import pytest

from relance import search_attributes as sa
from relance.contracts.transfer import AgencyCancellationAnswer, TransferState, TransferWorkflowInput
from relance.workflow_ids import transfer_workflow_id
from relance_workflow.workflows.transfer import TransferWorkflow
from tests.workflow.conftest import seed_dossier, workers

AGENCY = "AG-TIMERS"


async def seed_transfer(
    pool: asyncpg.Pool,
    created_at: datetime,
    *,
    amounts: tuple[str, ...] = ("400.00", "250.00"),
    state: str = "in_window",
    agency: str = AGENCY,
    cancellation_requested_at: datetime | None = None,
) -> tuple[UUID, UUID, UUID, str, list[UUID]]:
    """A client whose open items sit in a transfer dossier, as the dossier API leaves them
    (F-27), written straight to the tables: no outbox event, so the session's own signal
    bridge does not start a second workflow for it. Returns client id, active dossier id,
    transfer id, client code, item ids."""
    due = created_at.date() - timedelta(days=40)
    client_id, active_id, code = await seed_dossier(pool, [(due, Decimal(a)) for a in amounts])
    transfer_id = uuid4()
    async with pool.acquire() as conn, conn.transaction():
        item_ids = [r["id"] for r in await conn.fetch(
            "SELECT id FROM items WHERE dossier_id = $1 ORDER BY number", active_id)]
        await conn.execute(
            "INSERT INTO dossiers (id, client_id, kind, state, agency_code, opened_at)"
            " VALUES ($1, $2, 'transfer', $3, $4, $5)",
            transfer_id, client_id, "cancellation_pending" if state == "cancellation_pending" else "open",
            agency, created_at,
        )
        await conn.execute("UPDATE items SET dossier_id = $1 WHERE dossier_id = $2", transfer_id, active_id)
        await conn.execute(
            "INSERT INTO transfers (id, client_id, agency_code, state, created_by, created_at,"
            " next_follow_up_date, opening_comment, item_ids, cancellation_requested_at,"
            " placed_at) VALUES ($1, $2, $3, $4, 'user:test', $5, $6, 'Three reminders unanswered',"
            " $7, $8, $9)",
            transfer_id, client_id, agency, state, created_at, date(2030, 1, 1), item_ids,
            cancellation_requested_at, None if state == "in_window" else created_at,
        )
    return client_id, active_id, transfer_id, code, item_ids


async def eventually(check, timeout: float = 30, interval: float = 0.1):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


async def outbox_events(pool: asyncpg.Pool, transfer_id: UUID, event_type: str) -> list[dict]:
    rows = await pool.fetch(
        "SELECT event FROM outbox WHERE event_type = $1 AND event->>'aggregate_id' = $2"
        " ORDER BY id", event_type, str(transfer_id),
    )
    return [r["event"] for r in rows]


@pytest.fixture(scope="module")
async def worker(time_skipping_env, pool, stack):
    async with workers(time_skipping_env.client, pool, "transfer-timers") as queues:
        yield queues


async def _advance_to(env, moment: datetime) -> None:
    delta = moment - await env.get_current_time()
    if delta > timedelta(0):
        await env.sleep(delta)


async def test_f28_f30_placement_goes_out_at_window_end_and_not_one_second_before(
    time_skipping_env, pool, worker
):
    env = time_skipping_env
    created_at = await env.get_current_time()
    client_id, _, transfer_id, code, item_ids = await seed_transfer(pool, created_at)
    # Started as before the dossier fixed the window with the transfer (no `window_ends_at`
    # in the input): the workflow computes the end and records it itself.
    handle = await env.client.start_workflow(
        TransferWorkflow.run,
        TransferWorkflowInput(transfer_id=transfer_id, client_id=client_id, client_code=code,
                              dossier_task_queue=worker.dossier, agency_code=AGENCY, created_at=created_at),
        id=transfer_workflow_id(transfer_id), task_queue=worker.workflows,
    )
    window_end = created_at + timedelta(hours=24)
    assert await eventually(lambda: pool.fetchval(
        "SELECT window_ends_at = $2 FROM transfers WHERE id = $1", transfer_id, window_end))

    await _advance_to(env, window_end - timedelta(seconds=1))
    row = await pool.fetchrow("SELECT state, placed_at FROM transfers WHERE id = $1", transfer_id)
    assert (row["state"], row["placed_at"]) == ("in_window", None)  # one second early: nothing
    assert await outbox_events(pool, transfer_id, "transfer.placed") == []
    assert (await handle.query(TransferWorkflow.status)).state is TransferState.IN_WINDOW

    await env.sleep(timedelta(seconds=1))
    row = await eventually(lambda: pool.fetchrow(
        "SELECT state, placed_at FROM transfers WHERE id = $1 AND state = 'placed'", transfer_id))
    assert window_end <= row["placed_at"] < window_end + timedelta(seconds=1)
    [placed] = await outbox_events(pool, transfer_id, "transfer.placed")
    assert placed["payload"]["client_code"] == code
    assert placed["payload"]["agency_code"] == AGENCY
    assert sorted(i["item_id"] for i in placed["payload"]["items"]) == sorted(map(str, item_ids))
    assert placed["payload"]["opening_comment"] == "Three reminders unanswered"
    # The search attributes follow in the workflow task after the placement activity.
    async def described_as_placed():
        described = await handle.describe()
        return described if described.typed_search_attributes.get(sa.TRANSFER_STATE) == "placed" else None

    described = await eventually(described_as_placed)
    assert described.typed_search_attributes.get(sa.AGENCY) == AGENCY
    assert described.typed_search_attributes.get(sa.CLIENT_CODE) == code

    # Much later: still exactly one placement.
    await env.sleep(timedelta(days=3))
    assert len(await outbox_events(pool, transfer_id, "transfer.placed")) == 1


async def test_f30_agency_silent_on_cancellation_request_raises_overdue_alert_after_the_delay(
    time_skipping_env, pool, worker
):
    """A transfer whose cancellation request waits for the agency (as carried over
    continue-as-new): after 5 days without an answer the alert event and the search
    attribute are set, once; a late validation still brings the items back."""
    env = time_skipping_env
    now = await env.get_current_time()
    created_at = now - timedelta(days=3)
    client_id, active_id, transfer_id, code, item_ids = await seed_transfer(
        pool, created_at, state="cancellation_pending", cancellation_requested_at=now)
    handle = await env.client.start_workflow(
        TransferWorkflow.run,
        TransferWorkflowInput(transfer_id=transfer_id, client_id=client_id, client_code=code,
                              dossier_task_queue=worker.dossier, agency_code=AGENCY, created_at=created_at,
                              state=TransferState.CANCELLATION_PENDING,
                              cancellation_requested_at=now),
        id=transfer_workflow_id(transfer_id), task_queue=worker.workflows,
    )
    overdue_at = now + timedelta(days=5)
    await _advance_to(env, overdue_at - timedelta(seconds=1))
    assert await pool.fetchval(
        "SELECT agency_answer_overdue FROM transfers WHERE id = $1", transfer_id) is False
    assert await outbox_events(pool, transfer_id, "transfer.agency_answer_overdue") == []

    await env.sleep(timedelta(seconds=1))
    assert await eventually(lambda: pool.fetchval(
        "SELECT agency_answer_overdue FROM transfers WHERE id = $1", transfer_id))
    [alert] = await outbox_events(pool, transfer_id, "transfer.agency_answer_overdue")
    assert alert["payload"]["agency_code"] == AGENCY
    assert datetime.fromisoformat(alert["payload"]["overdue_since"]) >= overdue_at
    assert (await handle.describe()).typed_search_attributes.get(sa.AGENCY_ANSWER_OVERDUE) is True

    await env.sleep(timedelta(days=10))  # still waiting, alerted once
    assert len(await outbox_events(pool, transfer_id, "transfer.agency_answer_overdue")) == 1

    event_id = str(uuid4())
    answer = AgencyCancellationAnswer(event_id=event_id, validated=True, comment="OK for us")
    await handle.signal(TransferWorkflow.cancellation_answered, answer)
    await handle.signal(TransferWorkflow.cancellation_answered, answer)  # redelivered
    status = await handle.result()
    assert (status.state, status.answer_overdue) == (TransferState.CLOSED, False)
    row = await pool.fetchrow("SELECT state, cancellation_mode, agency_answer_overdue FROM transfers"
                              " WHERE id = $1", transfer_id)
    assert tuple(row) == ("closed", "agency_validated", False)
    assert set(await pool.fetchval(
        "SELECT array_agg(DISTINCT dossier_id) FROM items WHERE id = ANY($1::uuid[])", item_ids)
    ) == {active_id}
    assert len(await outbox_events(pool, transfer_id, "transfer.cancelled")) == 1


async def test_f29_refusal_after_continue_as_new_returns_to_acknowledged_placement(
    time_skipping_env, pool, worker
):
    """A transfer carried over continue-as-new while its cancellation request waits (the
    agency had acknowledged the placement): a refusal clears the flag, records the reason,
    and the transfer is back to 'placed_acknowledged' with its items still transferred."""
    env = time_skipping_env
    now = await env.get_current_time()
    created_at = now - timedelta(days=2)
    client_id, _, transfer_id, code, item_ids = await seed_transfer(
        pool, created_at, state="cancellation_pending", cancellation_requested_at=now)
    handle = await env.client.start_workflow(
        TransferWorkflow.run,
        TransferWorkflowInput(transfer_id=transfer_id, client_id=client_id, client_code=code,
                              dossier_task_queue=worker.dossier, agency_code=AGENCY, created_at=created_at,
                              state=TransferState.CANCELLATION_PENDING,
                              cancellation_requested_at=now, acknowledged=True),
        id=transfer_workflow_id(transfer_id), task_queue=worker.workflows,
    )
    await handle.signal(TransferWorkflow.cancellation_answered, AgencyCancellationAnswer(
        event_id=str(uuid4()), validated=False, comment="Debtor already on a payment plan"))
    row = await eventually(lambda: pool.fetchrow(
        "SELECT * FROM transfers WHERE id = $1 AND state <> 'cancellation_pending'", transfer_id))
    assert (row["state"], row["refusal_reason"]) == ("placed_acknowledged", "Debtor already on a payment plan")
    assert (await handle.query(TransferWorkflow.status)).state is TransferState.PLACED_ACKNOWLEDGED
    assert await pool.fetchval("SELECT state FROM dossiers WHERE id = $1", transfer_id) == "open"
    assert set(await pool.fetchval(
        "SELECT array_agg(DISTINCT dossier_id) FROM items WHERE id = ANY($1::uuid[])", item_ids)
    ) == {transfer_id}
    # Past the answer delay nothing is overdue any more: the agency did answer.
    await env.sleep(timedelta(days=6))
    assert await outbox_events(pool, transfer_id, "transfer.agency_answer_overdue") == []
    await handle.terminate("test done")
