"""One pydantic model per workflow, activity, signal and update input or output."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from relance.scenarios import ScenarioStep


class DossierWorkflowInput(BaseModel):
    dossier_id: UUID
    client_id: UUID
    client_code: str
    scenario_code: str | None = None
    # Carried over continue-as-new:
    scenario_version: int | None = None
    completed_steps: int = 0
    previous_completed_at: datetime | None = None
    open_step_index: int | None = None
    seen_event_ids: list[str] = Field(default_factory=list)


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


class DossierStatus(BaseModel):
    """Query answer: where the dossier's scenario stands."""

    state: str  # active | scheduled | awaiting | needs_attention | idle
    completed_steps: int = 0
    next_action_at: datetime | None = None
