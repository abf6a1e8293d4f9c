"""Dunning scenario schema (F-9), shared by the dossier API that edits scenarios and the
workflow service that runs them."""

from enum import StrEnum

from pydantic import BaseModel, Field


class ActionType(StrEnum):
    EMAIL = "email"
    LETTER = "letter"
    SMS = "sms"
    CALL = "call"
    INTERNAL_TASK = "internal_task"


class StepMode(StrEnum):
    AUTOMATIC = "automatic"
    AUTOMATIC_TO_CONFIRM = "automatic_to_confirm"
    MANUAL = "manual"


class DelayReference(StrEnum):
    DUE_DATE = "due_date"  # days after the earliest due date of the chased items
    PREVIOUS_STEP = "previous_step"  # days after the previous step was completed


class ScenarioStep(BaseModel):
    action_type: ActionType
    delay_days: int = Field(ge=0, le=3650)
    delay_from: DelayReference = DelayReference.DUE_DATE
    template_code: str | None = None
    priority: int = Field(default=1, ge=1, le=5)
    mode: StepMode = StepMode.AUTOMATIC
    label: str | None = None


class Scenario(BaseModel):
    code: str
    version: int
    name: str
    steps: list[ScenarioStep] = Field(min_length=1)


# Channels the notifier sends on for an automatic step.
SENDING_ACTIONS = {ActionType.EMAIL, ActionType.LETTER, ActionType.SMS}
