"""The workflow service's Temporal worker: the workflows of Relance on one task queue. It
hosts no activity: the activities that change dossier data run in the dossier service's
worker, on the queue the workflows name (`dossier_task_queue` of their input)."""

from temporalio.client import Client
from temporalio.worker import Worker

from relance.temporal import connect  # noqa: F401 - the service's client (tracing, metrics)
from relance_workflow.settings import Settings
from relance_workflow.workflows.action import ActionWorkflow
from relance_workflow.workflows.dossier import DossierWorkflow
from relance_workflow.workflows.transfer import TransferWorkflow

WORKFLOWS = [DossierWorkflow, ActionWorkflow, TransferWorkflow]


def build_worker(client: Client, settings: Settings) -> Worker:
    return Worker(client, task_queue=settings.temporal_task_queue, workflows=WORKFLOWS)
