"""The dossier service's Temporal worker: the activities that change dossier data, on the
dossier's own task queue. The workflows live in the workflow service and schedule these
activities by name on this queue (`relance.contracts`)."""

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from relance.temporal import connect  # noqa: F401 - the service's client (tracing, metrics)
from relance_dossier.activities.action import ActionActivities
from relance_dossier.activities.dossier import DossierActivities
from relance_dossier.activities.late_fees import LateFeeRunActivities
from relance_dossier.activities.payment_plan import PaymentPlanActivities
from relance_dossier.activities.transfer import TransferActivities
from relance_dossier.settings import Settings


def activities(pool: asyncpg.Pool, settings: Settings) -> list:
    dossier = DossierActivities(pool, settings.business_timezone, settings.business_hour,
                                frozenset(settings.business_days))
    plans = PaymentPlanActivities(pool, settings.business_timezone, settings.business_hour)
    return [*dossier.all(), *TransferActivities(pool, settings).all(), *ActionActivities(pool).all(),
            *plans.all(), *LateFeeRunActivities(pool, settings).all()]


def build_worker(client: Client, pool: asyncpg.Pool, settings: Settings) -> Worker:
    return Worker(
        client,
        task_queue=settings.temporal_dossier_task_queue,
        activities=activities(pool, settings),
    )
