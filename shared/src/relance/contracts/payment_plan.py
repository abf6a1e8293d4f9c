"""The payment plan workflow's contract (F-37): one pydantic model per workflow, activity,
signal and query input or output, and their names."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from relance.contracts import DOSSIER_TASK_QUEUE, Activity, Query, Signal


class PaymentPlanWorkflowInput(BaseModel):
    plan_id: UUID
    client_id: UUID
    dossier_id: UUID
    # F-37: a missed instalment is checked again after this many days before the plan breaks
    # (setting PAYMENT_PLAN_GRACE_DAYS of the workflow service).
    grace_days: float = 5
    client_code: str | None = None  # for the search attributes
    collector_code: str | None = None
    dossier_task_queue: str = DOSSIER_TASK_QUEUE  # where its activities run
    seen_event_ids: list[str] = Field(default_factory=list)


class InstalmentCheckpoint(BaseModel):
    """An instalment and the moment it is judged: the first business hour after its due
    day has ended (like a promise to pay)."""

    seq: int
    check_at: datetime


class PlanSchedule(BaseModel):
    state: str  # active | completed | broken | cancelled
    instalments: list[InstalmentCheckpoint]


class InstalmentCheckRequest(BaseModel):
    plan_id: UUID
    seq: int
    # After the grace period a still missed instalment breaks the plan.
    grace_over: bool = False
    # The collector's follow-up intervention opened when the plan breaks (from the workflow,
    # so a retried activity opens the same one).
    follow_up_id: UUID


InstalmentOutcome = Literal["paid", "missed", "completed", "broken", "cancelled"]


class InstalmentCheckResult(BaseModel):
    outcome: InstalmentOutcome
    follow_up_id: UUID | None = None  # set when the plan broke


class PlanCancelled(BaseModel):
    """Signal: a collector cancelled the plan (its items are already back in the scenario)."""

    event_id: str


class PaymentPlanStatus(BaseModel):
    state: str  # watching | grace | completed | broken | cancelled
    next_check_at: datetime | None = None
    instalments_paid: int = 0


# ---- names ----------------------------------------------------------------------------

WORKFLOW_TYPE = "PaymentPlanWorkflow"

STATUS = Query[PaymentPlanStatus]("status", PaymentPlanStatus)
CANCELLED = Signal[PlanCancelled]("cancelled", PlanCancelled)

PLAN_SCHEDULE = Activity[UUID, PlanSchedule]("payment_plan_schedule", UUID, PlanSchedule)
CHECK_INSTALMENT = Activity[InstalmentCheckRequest, InstalmentCheckResult](
    "check_instalment", InstalmentCheckRequest, InstalmentCheckResult)
