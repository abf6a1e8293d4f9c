"""The cancel Update on the dev server (the time-skipping server has no Updates), with a
short window (F-28 … F-30): within the window the cancellation is immediate and nothing is
ever placed; from the window end on it is a request and the agency's answer decides."""

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from relance.contracts import Refusal
from relance.contracts.transfer import (
    AgencyCancellationAnswer,
    CancellationMode,
    CancelTransfer,
    TransferState,
    TransferWorkflowInput,
)
from relance.workflow_ids import transfer_workflow_id
from relance_workflow.workflows.transfer import TransferWorkflow
from tests.workflow.conftest import workers
from tests.workflow.test_transfer_workflow import AGENCY, eventually, outbox_events, seed_transfer

WINDOW_SECONDS = 3.0


@pytest.fixture(scope="module")
async def dev_client(stack) -> Client:
    return await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)


@pytest.fixture(scope="module")
async def dev_worker(dev_client, pool):
    async with workers(dev_client, pool, "transfer-updates") as queues:
        yield queues


async def _start(dev_client, pool, dev_worker, window: float = WINDOW_SECONDS):
    created_at = datetime.now(UTC)
    client_id, active_id, transfer_id, code, item_ids = await seed_transfer(pool, created_at)
    handle = await dev_client.start_workflow(
        TransferWorkflow.run,
        TransferWorkflowInput(transfer_id=transfer_id, client_id=client_id, client_code=code,
                              dossier_task_queue=dev_worker.dossier, agency_code=AGENCY, created_at=created_at,
                              window_seconds=window),
        id=transfer_workflow_id(transfer_id), task_queue=dev_worker.workflows,
    )
    return handle, active_id, transfer_id, item_ids


async def _holders(pool, item_ids) -> set:
    return set(await pool.fetchval(
        "SELECT array_agg(DISTINCT dossier_id) FROM items WHERE id = ANY($1::uuid[])", item_ids))


async def test_f28_cancel_within_window_is_immediate_and_the_agency_never_hears_of_it(
    dev_client, pool, dev_worker
):
    handle, active_id, transfer_id, item_ids = await _start(dev_client, pool, dev_worker, window=60)
    result = await handle.execute_update(
        TransferWorkflow.cancel, CancelTransfer(comment="Client paid directly", requested_by="user:ana"))
    assert (result.mode, result.state) == (CancellationMode.IMMEDIATE, TransferState.CLOSED)
    assert (await handle.result()).state is TransferState.CLOSED

    assert await _holders(pool, item_ids) == {active_id}  # items back in the active dossier
    dossier = await pool.fetchrow("SELECT state, closed_at FROM dossiers WHERE id = $1", transfer_id)
    assert dossier["state"] == "closed" and dossier["closed_at"] is not None
    row = await pool.fetchrow("SELECT * FROM transfers WHERE id = $1", transfer_id)
    assert (row["state"], row["cancellation_mode"], row["closing_comment"]) == (
        "closed", "immediate", "Client paid directly")
    [cancelled] = await outbox_events(pool, transfer_id, "transfer.cancelled")
    assert cancelled["payload"]["mode"] == "immediate"
    assert cancelled["actor"] == "user:ana"
    assert await outbox_events(pool, transfer_id, "transfer.placed") == []
    assert await outbox_events(pool, transfer_id, "transfer.cancellation_requested") == []


async def test_f28_no_placement_after_an_immediate_cancel_even_past_the_window(
    dev_client, pool, dev_worker
):
    handle, _, transfer_id, _ = await _start(dev_client, pool, dev_worker, window=2)
    result = await handle.execute_update(
        TransferWorkflow.cancel, CancelTransfer(comment="Wrong client", requested_by="user:ana"))
    assert result.mode is CancellationMode.IMMEDIATE
    await asyncio.sleep(3)  # past the window end
    assert await outbox_events(pool, transfer_id, "transfer.placed") == []
    assert await pool.fetchval("SELECT placed_at FROM transfers WHERE id = $1", transfer_id) is None


async def test_f29_cancel_after_window_is_a_request_then_agency_validation_brings_items_back(
    dev_client, pool, dev_worker
):
    handle, active_id, transfer_id, item_ids = await _start(dev_client, pool, dev_worker)
    assert await eventually(lambda: outbox_events(pool, transfer_id, "transfer.placed"))
    result = await handle.execute_update(
        TransferWorkflow.cancel, CancelTransfer(comment="Settled with the client", requested_by="user:bo"))
    assert (result.mode, result.state) == (CancellationMode.REQUEST, TransferState.CANCELLATION_PENDING)

    assert await _holders(pool, item_ids) == {transfer_id}  # items stay
    assert await pool.fetchval("SELECT state FROM dossiers WHERE id = $1", transfer_id) == "cancellation_pending"
    [requested] = await outbox_events(pool, transfer_id, "transfer.cancellation_requested")
    assert (requested["payload"]["comment"], requested["payload"]["requested_by"]) == (
        "Settled with the client", "user:bo")

    # A second cancel while the agency has not answered is refused by the validator.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            TransferWorkflow.cancel, CancelTransfer(comment="again", requested_by="user:bo"))
    assert isinstance(refused.value.cause, ApplicationError)
    assert "already waits" in refused.value.cause.message
    assert refused.value.cause.type == Refusal.CANCELLATION_PENDING

    await handle.signal(TransferWorkflow.cancellation_answered,
                        AgencyCancellationAnswer(event_id=str(uuid4()), validated=True, comment="Agreed"))
    assert (await handle.result()).state is TransferState.CLOSED
    assert await _holders(pool, item_ids) == {active_id}
    row = await pool.fetchrow("SELECT state, cancellation_mode, closing_comment FROM transfers"
                              " WHERE id = $1", transfer_id)
    assert tuple(row) == ("closed", "agency_validated", "Agreed")
    [cancelled] = await outbox_events(pool, transfer_id, "transfer.cancelled")
    assert cancelled["payload"]["mode"] == "agency_validated"


async def test_f29_agency_refusal_clears_the_flag_and_records_the_reason(dev_client, pool, dev_worker):
    handle, _, transfer_id, item_ids = await _start(dev_client, pool, dev_worker)
    assert await eventually(lambda: outbox_events(pool, transfer_id, "transfer.placed"))
    result = await handle.execute_update(
        TransferWorkflow.cancel, CancelTransfer(comment="Please stop", requested_by="user:bo"))
    assert result.mode is CancellationMode.REQUEST
    await handle.signal(TransferWorkflow.cancellation_answered, AgencyCancellationAnswer(
        event_id=str(uuid4()), validated=False, comment="Payment plan already agreed"))

    row = await eventually(lambda: pool.fetchrow(
        "SELECT * FROM transfers WHERE id = $1 AND state = 'placed'", transfer_id))
    assert row["refusal_reason"] == "Payment plan already agreed"
    assert await pool.fetchval("SELECT state FROM dossiers WHERE id = $1", transfer_id) == "open"
    assert await _holders(pool, item_ids) == {transfer_id}
    assert len(await outbox_events(pool, transfer_id, "transfer.cancellation_refused")) == 1
    # The collector may ask again after a refusal.
    again = await handle.execute_update(
        TransferWorkflow.cancel, CancelTransfer(comment="Client insists", requested_by="user:bo"))
    assert again.state is TransferState.CANCELLATION_PENDING


async def test_cancel_without_comment_is_refused_by_the_validator(dev_client, pool, dev_worker):
    handle, _, transfer_id, _ = await _start(dev_client, pool, dev_worker, window=60)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(TransferWorkflow.cancel, CancelTransfer(comment="  ", requested_by="user:x"))
    assert refused.value.cause.type == Refusal.COMMENT_REQUIRED
    assert "comment is required" in refused.value.cause.message
    assert await pool.fetchval("SELECT state FROM transfers WHERE id = $1", transfer_id) == "in_window"
    await handle.terminate("test done")
