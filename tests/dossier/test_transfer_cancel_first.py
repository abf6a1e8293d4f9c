"""Issue 10, "Cancel before the workflow exists" (F-28, F-30), on the real platform: a
cancel sent while the bridge has not started the transfer's workflow yet (here: it never
will, the `transfer.created` event is withheld) is decided at once by update-with-start,
from the transfer's created_at as the database clock wrote it."""

import asyncio
from datetime import date, timedelta
from uuid import UUID

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from relance.contracts.transfer import TransferState
from relance.workflow_ids import transfer_workflow_id
from relance_dossier.domain.transfers import RegisteredAgency
from relance_dossier.persistence import transfers as transfer_store
from relance_workflow.workflows.transfer import TransferWorkflow
from tests.dossier.test_transfers import AGENCY, events, holders, new_client


async def _transfer_without_its_event(db, card: dict) -> UUID:
    """The transfer as the API writes it, its `transfer.created` withheld from the bridge."""
    async with db.acquire() as conn, conn.transaction():
        client_row = await conn.fetchrow("SELECT * FROM clients WHERE code = $1", card["client"]["code"])
        db_before = await conn.fetchval("SELECT clock_timestamp()")
        transfer_id = await transfer_store.create_transfer(
            conn, client=client_row, item_ids=[UUID(i["id"]) for i in card["open_items"]],
            agency_code=AGENCY, agency=RegisteredAgency(AGENCY, "Test agency", True),
            next_follow_up_date=date.today() + timedelta(days=14),
            opening_comment="Three reminders unanswered", actor="user:admin",
            window=timedelta(days=1))
        db_after = await conn.fetchval("SELECT clock_timestamp()")
        await conn.execute(
            "DELETE FROM outbox WHERE event_type = 'transfer.created'"
            " AND event->>'aggregate_id' = $1", str(transfer_id))
        created_at = await conn.fetchval("SELECT created_at FROM transfers WHERE id = $1", transfer_id)
    # The window's start is the database clock's reading, inside the transaction.
    assert db_before <= created_at <= db_after
    return transfer_id


async def test_a_cancel_before_the_bridge_started_the_workflow_is_immediate_at_once(
    dossier_api, db, stack
) -> None:
    card = await new_client(dossier_api)
    transfer_id = await _transfer_without_its_event(db, card)
    item_ids = [i["id"] for i in card["open_items"]]

    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await dossier_api.post(f"/transfers/{transfer_id}/cancel",
                                      json={"comment": "Paid directly"})
    took = loop.time() - started

    assert response.status_code == 200, response.text
    assert response.json() == {"mode": "immediate", "state": "closed"}
    assert took < 10, f"the cancel waited {took:.1f}s for a workflow"
    assert await holders(db, item_ids) == {UUID(card["active_dossier"]["id"])}
    assert await events(db, transfer_id, "transfer.placed") == []

    # The workflow the cancel started ran from the transfer's own created_at.
    temporal = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)
    handle = temporal.get_workflow_handle_for(TransferWorkflow.run, transfer_workflow_id(transfer_id))
    assert (await handle.result()).state is TransferState.CLOSED
    created_at = await db.fetchval("SELECT created_at FROM transfers WHERE id = $1", transfer_id)
    status = await handle.query(TransferWorkflow.status)
    assert status.window_ends_at == created_at + timedelta(days=1)

    # Cancelling again: the closed transfer answers 409, and no second workflow starts.
    again = await dossier_api.post(f"/transfers/{transfer_id}/cancel", json={"comment": "again"})
    assert again.status_code == 409
