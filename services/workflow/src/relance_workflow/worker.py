"""The Temporal worker: the workflows and activities of Relance on one task queue."""

import asyncpg
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from relance_workflow.activities.dossier import DossierActivities
from relance_workflow.activities.transfer import TransferActivities
from relance_workflow.settings import Settings
from relance_workflow.workflows.dossier import DossierWorkflow
from relance_workflow.activities.action import ActionActivities
from relance_workflow.workflows.action import ActionWorkflow
from relance_workflow.workflows.transfer import TransferWorkflow

WORKFLOWS = [DossierWorkflow, ActionWorkflow, TransferWorkflow]


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def build_worker(client: Client, pool: asyncpg.Pool, settings: Settings) -> Worker:
    dossier = DossierActivities(pool, settings.business_timezone, settings.business_hour)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=[*dossier.all(), *TransferActivities(pool).all(), *ActionActivities(pool).all()],
    )
