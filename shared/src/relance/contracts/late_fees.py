"""The late-fee run's contract (F-38): one workflow per dossier service (id from
`relance.workflow_ids.late_fee_run_workflow_id`) charges, every month, the fees of the
clients whose late-fee policy has `auto_charge`; its activities run in the dossier
service's worker."""

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel

from relance.contracts import DOSSIER_TASK_QUEUE, Activity, Query


class LateFeeRunMoment(BaseModel):
    """The next run: the day charged up to, and when (the business hour of that day)."""

    on: date
    at: datetime


class LateFeeRunRequest(BaseModel):
    on: date


class CurrencyAmount(BaseModel):
    currency: str
    amount: Decimal


class LateFeeRunResult(BaseModel):
    on: date
    clients_charged: int  # clients with at least one fee item added
    fee_items: int
    totals: list[CurrencyAmount]  # per currency, never added together


class LateFeeRunWorkflowInput(BaseModel):
    dossier_task_queue: str = DOSSIER_TASK_QUEUE  # where its activities run
    last_run: LateFeeRunResult | None = None  # carried over continue-as-new, for the status


class LateFeeRunProgress(BaseModel):
    """The activity's heartbeat: a retried run goes on after the last client done (a
    client charged twice the same day gets nothing more anyway)."""

    after_client_id: UUID
    clients_charged: int
    fee_items: int
    totals: list[CurrencyAmount]


class LateFeeRunStatus(BaseModel):
    state: str  # waiting | charging
    next_run: LateFeeRunMoment | None = None
    last_run: LateFeeRunResult | None = None


# ---- names ----------------------------------------------------------------------------

WORKFLOW_TYPE = "LateFeeRunWorkflow"

STATUS = Query[LateFeeRunStatus]("status", LateFeeRunStatus)

NEXT_RUN = Activity[datetime, LateFeeRunMoment]("late_fee_next_run", datetime, LateFeeRunMoment)
CHARGE = Activity[LateFeeRunRequest, LateFeeRunResult](
    "charge_late_fee_run", LateFeeRunRequest, LateFeeRunResult)
