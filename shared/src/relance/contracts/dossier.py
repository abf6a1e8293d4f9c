"""The dossier workflow's contract (F-9 .. F-13): one pydantic model per workflow,
activity, signal, query and Update input or output, and their names."""

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from relance.contracts import DOSSIER_TASK_QUEUE, Activity, Query, Signal, Update
from relance.scenarios import ScenarioStep


class DossierWorkflowInput(BaseModel):
    dossier_id: UUID
    client_id: UUID
    client_code: str
    scenario_code: str | None = None
    # Where the activities that change dossier data run (the dossier service's worker).
    dossier_task_queue: str = DOSSIER_TASK_QUEUE
    # Carried over continue-as-new:
    scenario_version: int | None = None
    completed_steps: int = 0
    previous_completed_at: datetime | None = None
    open_step_index: int | None = None
    seen_event_ids: list[str] = Field(default_factory=list)
    open_interventions: list["OpenIntervention"] = Field(default_factory=list)
    promises: list["PendingPromise"] = Field(default_factory=list)


class OpenIntervention(BaseModel):
    """What the workflow knows of an intervention still To do, so that Update validators
    can answer without I/O."""

    intervention_id: UUID
    origin: str  # scenario | manual | alert | promise | promise_follow_up | plan_follow_up
    action_type: str
    step_index: int | None = None
    awaiting_outcome: bool = False  # a communication was requested for it


class PendingPromise(BaseModel):
    """A promise to pay waiting for its date (F-12)."""

    intervention_id: UUID
    check_at: datetime


class PlanRequest(BaseModel):
    dossier_id: UUID
    scenario_code: str | None
    scenario_version: int | None
    completed_steps: int
    previous_completed_at: datetime | None


class PlannedStepOut(BaseModel):
    scenario_code: str
    scenario_version: int
    collector_code: str | None = None
    step_index: int | None = None
    step: ScenarioStep | None = None
    due_at: datetime | None = None
    item_ids: list[UUID] = Field(default_factory=list)
    # The dossier service's business time zone and hour (issue 10): the workflow judges
    # promises at that local moment. Absent from older results: Europe/Paris, 8 h.
    business_timezone: str | None = None
    business_hour: int | None = None


class OpenInterventionRequest(BaseModel):
    intervention_id: UUID
    dossier_id: UUID
    scenario_code: str
    scenario_version: int
    step_index: int
    step: ScenarioStep
    due_at: datetime
    item_ids: list[UUID]


class OpenInterventionResult(BaseModel):
    intervention_id: UUID
    communication_id: UUID | None  # set when a communication was requested from the notifier


class CompleteInterventionRequest(BaseModel):
    intervention_id: UUID
    status: str  # done | skipped
    comment: str | None = None
    actor: str | None = None  # None: the workflow itself (a letter printed, an email sent)


class CommunicationOutcome(BaseModel):
    """Signal: the notifier's verdict on a communication the workflow requested."""

    event_id: str
    communication_id: UUID
    intervention_id: UUID | None
    status: str  # sent | failed | needs_attention
    reason: str | None = None


class ItemsChanged(BaseModel):
    """Signal: the dossier's items changed (paid, disputed, moved): plan again."""

    event_id: str


class FollowUpOpened(BaseModel):
    """Signal: another workflow opened an intervention To do on this dossier for the
    collector (F-37: a broken payment plan's follow-up call); the dossier tracks it like
    its own, so Done / Skip work on it, and plans again (the plan's items are back)."""

    event_id: str
    intervention_id: UUID
    origin: str  # plan_follow_up
    action_type: str = "call"


class NextStepPreview(BaseModel):
    step_index: int
    action_type: str
    mode: str
    label: str | None = None
    due_at: datetime


class DossierStatus(BaseModel):
    """Query answer: where the dossier's scenario stands."""

    state: str  # active | scheduled | awaiting | needs_attention | idle
    completed_steps: int = 0
    next_action_at: datetime | None = None
    open_interventions: int = 0
    next_step: NextStepPreview | None = None
    # Issue 10: why the scenario cannot be planned (unknown scenario, no default), shown
    # with state needs_attention until the data is fixed.
    problem: str | None = None

    @property
    def next_step_available(self) -> bool:
        """F-11: every intervention is Done and the scenario has a next step."""
        return self.open_interventions == 0 and self.next_step is not None


# ---- Updates: collector commands on the dossier workflow (F-10 .. F-13) ----------------


class InterventionCommand(BaseModel):
    """prepare / done / skip on one intervention."""

    intervention_id: UUID
    actor: str
    comment: str | None = None


class InterventionCommandResult(BaseModel):
    intervention_id: UUID
    status: str
    communication_id: UUID | None = None
    open_interventions: int = 0
    next_step: NextStepPreview | None = None
    next_step_available: bool = False  # F-11: the closing prompt


class InterventionEdit(BaseModel):
    intervention_id: UUID
    actor: str
    comment: str | None = None
    details: dict | None = None
    due_at: datetime | None = None


class NewIntervention(BaseModel):
    """F-12: an intervention created by hand: a task, an alert (reminder) or a promise."""

    intervention_id: UUID
    actor: str
    kind: str  # manual | alert | promise
    action_type: str = "internal_task"
    due_at: datetime
    priority: int = 1
    comment: str | None = None
    label: str | None = None
    promise_amount: str | None = None  # decimal as text: exact through JSON
    promise_date: date | None = None
    item_ids: list[UUID] = Field(default_factory=list)


class InterventionDeletion(BaseModel):
    intervention_id: UUID
    actor: str
    confirm: bool = False
    comment: str | None = None


class PrepareNextStep(BaseModel):
    actor: str


class PrepareNextStepResult(BaseModel):
    intervention_id: UUID | None
    step: NextStepPreview | None = None


# ---- Activity inputs for the collector commands -----------------------------------------


class PrepareRequest(BaseModel):
    intervention_id: UUID
    actor: str
    # One per Prepare, from the workflow: preparing again after a failed send (a contact
    # fixed) asks the notifier for a new communication, a retried activity does not.
    communication_id: UUID | None = None


class PrepareResult(BaseModel):
    communication_id: UUID | None = None
    status: str


class EditRequest(BaseModel):
    edit: InterventionEdit


class CreateRequest(BaseModel):
    dossier_id: UUID
    new: NewIntervention


class DeleteRequest(BaseModel):
    deletion: InterventionDeletion


class PromiseCheckRequest(BaseModel):
    intervention_id: UUID
    follow_up_id: UUID


class PromiseCheckResult(BaseModel):
    kept: bool
    follow_up_id: UUID | None = None


DossierWorkflowInput.model_rebuild()


# ---- names: the workflow's handlers and the dossier service's activities ---------------

WORKFLOW_TYPE = "DossierWorkflow"

STATUS = Query[DossierStatus]("status", DossierStatus)
ITEMS_CHANGED = Signal[ItemsChanged]("items_changed", ItemsChanged)
FOLLOW_UP_OPENED = Signal[FollowUpOpened]("follow_up_opened", FollowUpOpened)
COMMUNICATION_OUTCOME = Signal[CommunicationOutcome]("communication_outcome", CommunicationOutcome)

PREPARE = Update[InterventionCommand, InterventionCommandResult](
    "prepare", InterventionCommand, InterventionCommandResult)
DONE = Update[InterventionCommand, InterventionCommandResult](
    "done", InterventionCommand, InterventionCommandResult)
SKIP = Update[InterventionCommand, InterventionCommandResult](
    "skip", InterventionCommand, InterventionCommandResult)
EDIT = Update[InterventionEdit, bool]("edit", InterventionEdit, bool)
CREATE = Update[NewIntervention, InterventionCommandResult](
    "create", NewIntervention, InterventionCommandResult)
DELETE = Update[InterventionDeletion, bool]("delete", InterventionDeletion, bool)
PREPARE_NEXT_STEP = Update[PrepareNextStep, PrepareNextStepResult](
    "prepare_next_step", PrepareNextStep, PrepareNextStepResult)

PLAN_NEXT_STEP = Activity[PlanRequest, PlannedStepOut]("plan_next_step", PlanRequest, PlannedStepOut)
OPEN_INTERVENTION = Activity[OpenInterventionRequest, OpenInterventionResult](
    "open_intervention", OpenInterventionRequest, OpenInterventionResult)
COMPLETE_INTERVENTION = Activity[CompleteInterventionRequest, bool](
    "complete_intervention", CompleteInterventionRequest, bool)
PREPARE_INTERVENTION = Activity[PrepareRequest, PrepareResult](
    "prepare_intervention", PrepareRequest, PrepareResult)
EDIT_INTERVENTION = Activity[EditRequest, bool]("edit_intervention", EditRequest, bool)
CREATE_INTERVENTION = Activity[CreateRequest, bool]("create_intervention", CreateRequest, bool)
DELETE_INTERVENTION = Activity[DeleteRequest, bool]("delete_intervention", DeleteRequest, bool)
CHECK_PROMISE = Activity[PromiseCheckRequest, PromiseCheckResult](
    "check_promise", PromiseCheckRequest, PromiseCheckResult)
