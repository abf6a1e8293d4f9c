"""The specific action workflow's contract (F-15 .. F-20): its models and names."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from relance.contracts import DOSSIER_TASK_QUEUE, Activity, Query, Update


class ActionWorkflowInput(BaseModel):
    action_id: UUID
    client_id: UUID
    dossier_id: UUID
    due_at: datetime
    mode: str  # automatic | automatic_to_confirm | manual
    client_code: str | None = None  # for the search attributes
    collector_code: str | None = None
    dossier_task_queue: str = DOSSIER_TASK_QUEUE  # where its activities run


class ActionDueResult(BaseModel):
    status: str  # deleted (F-20: items all settled) | sent | awaiting_confirmation | todo


class ActionCommand(BaseModel):
    """confirm / done / delete on a specific action, by a collector."""

    actor: str
    comment: str | None = None
    confirm: bool = False


class ActionCloseRequest(BaseModel):
    action_id: UUID
    status: str  # sent | done | deleted
    actor: str
    comment: str | None = None


class ActionStatus(BaseModel):
    status: str  # scheduled | awaiting_confirmation | todo | sent | done | deleted
    due_at: datetime


# ---- names ----------------------------------------------------------------------------

WORKFLOW_TYPE = "ActionWorkflow"

STATUS = Query[ActionStatus]("status", ActionStatus)
CONFIRM = Update[ActionCommand, ActionDueResult]("confirm", ActionCommand, ActionDueResult)
DONE = Update[ActionCommand, ActionDueResult]("done", ActionCommand, ActionDueResult)
DELETE = Update[ActionCommand, ActionDueResult]("delete", ActionCommand, ActionDueResult)

ACTION_DUE = Activity[UUID, ActionDueResult]("action_due", UUID, ActionDueResult)
CLOSE_ACTION = Activity[ActionCloseRequest, ActionDueResult](
    "close_action", ActionCloseRequest, ActionDueResult)
