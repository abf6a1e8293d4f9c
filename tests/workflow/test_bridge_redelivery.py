"""Issue 10, "Redelivered starts": a `dossier.opened`, `transfer.created`,
`specific_action.created` or `payment_plan.created` delivered again after its workflow has
closed is a no-op in the signal bridge (F-27, F-15, F-37), not an error the consumer retries forever. Runs on the dev
server (the time-skipping server ignores id conflict policies)."""

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from relance.events import (
    DossierOpened,
    PaymentPlanCancelled,
    PaymentPlanCreated,
    SpecificActionCreated,
    TransferCreated,
)
from relance.workflow_ids import (
    action_workflow_id,
    dossier_workflow_id,
    payment_plan_workflow_id,
    transfer_workflow_id,
)
from relance_workflow.messaging.bridge import SignalBridge


@pytest.fixture(scope="module")
async def dev_client(stack) -> Client:
    return await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)


def _events():
    client_id, dossier_id, transfer_id, action_id, plan_id = uuid4(), uuid4(), uuid4(), uuid4(), uuid4()
    opened = DossierOpened(dossier_id=dossier_id, client_id=client_id, client_code="RD-1")
    created = TransferCreated(
        transfer_id=transfer_id, client_id=client_id, client_code="RD-1", agency_code="AG-RD",
        item_ids=[uuid4()], next_follow_up_date=date(2030, 1, 1), opening_comment="x",
        created_at=datetime.now(UTC))
    action = SpecificActionCreated(
        action_id=action_id, client_id=client_id, dossier_id=dossier_id, item_ids=[uuid4()],
        action_type="email", mode="manual", due_at=datetime(2030, 1, 1, tzinfo=UTC))
    return [
        (opened.envelope(aggregate_id=dossier_id, client_id=client_id), dossier_workflow_id(dossier_id)),
        (created.envelope(aggregate_id=transfer_id, client_id=client_id), transfer_workflow_id(transfer_id)),
        (action.envelope(aggregate_id=action_id, client_id=client_id), action_workflow_id(action_id)),
        (PaymentPlanCreated(plan_id=plan_id, client_id=client_id, dossier_id=dossier_id,
                            item_ids=[uuid4()], instalments=2, total_amount=Decimal("10.00"),
                            currency="EUR").envelope(aggregate_id=plan_id, client_id=client_id),
         payment_plan_workflow_id(plan_id)),
    ]


@pytest.mark.parametrize("kind", ["dossier.opened", "transfer.created", "specific_action.created",
                                  "payment_plan.created"])
async def test_a_redelivered_start_of_a_closed_workflow_is_a_no_op(dev_client, kind):
    # A task queue no worker polls: the workflow exists without running, then closes.
    bridge = SignalBridge(dev_client, task_queue=f"redelivery-{uuid4().hex[:6]}")
    [(envelope, workflow_id)] = [(e, w) for e, w in _events() if e.event_type == kind]
    await bridge.handle(envelope)
    await bridge.handle(envelope)  # redelivered while running: the same workflow
    handle = dev_client.get_workflow_handle(workflow_id)
    first_run = (await handle.describe()).run_id
    await handle.terminate("closed for the test")

    await bridge.handle(envelope)  # redelivered after it closed: nothing to do, no error

    described = await dev_client.get_workflow_handle(workflow_id).describe()
    assert described.run_id == first_run  # no second run was started either


async def test_f37_a_cancellation_of_an_ended_plan_is_a_no_op(dev_client):
    """`payment_plan.cancelled` for a plan whose workflow has ended (or never ran) is
    acknowledged, not retried."""
    bridge = SignalBridge(dev_client, task_queue=f"redelivery-{uuid4().hex[:6]}")
    plan_id, client_id = uuid4(), uuid4()
    cancelled = PaymentPlanCancelled(plan_id=plan_id, client_id=client_id, dossier_id=uuid4())
    await bridge.handle(cancelled.envelope(aggregate_id=plan_id, client_id=client_id))  # no error
    with pytest.raises(RPCError) as missing:  # and nothing was started for it
        await dev_client.get_workflow_handle(payment_plan_workflow_id(plan_id)).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND
