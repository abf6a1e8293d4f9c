"""The workflows the workflow service keeps running by itself, not started by an event:
the late-fee run (F-38). Started when the service starts; one already running is left
as it is (its business-key id), so every replica and every restart may ask."""

import structlog
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from relance.contracts.late_fees import LateFeeRunWorkflowInput
from relance.workflow_ids import late_fee_run_workflow_id
from relance_workflow.workflows.late_fee_run import LateFeeRunWorkflow

log = structlog.get_logger(__name__)


async def ensure_late_fee_run(client: Client, *, task_queue: str, dossier_task_queue: str) -> None:
    workflow_id = late_fee_run_workflow_id(dossier_task_queue)
    try:
        await client.start_workflow(
            LateFeeRunWorkflow.run, LateFeeRunWorkflowInput(dossier_task_queue=dossier_task_queue),
            id=workflow_id, task_queue=task_queue,
        )
        log.info("late_fee_run.started", workflow_id=workflow_id)
    except WorkflowAlreadyStartedError:
        pass  # running already: it keeps its schedule
