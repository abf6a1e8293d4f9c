"""Typed contracts of the workflows: the names and the pydantic models of every activity,
Update, signal and query, imported by the workflows, by the activities (whichever
service hosts them) and by the API callers, so that no service imports another.

Activities that change dossier data run in the dossier service's worker, on
`DOSSIER_TASK_QUEUE`; the workflows name that queue when they schedule them."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

# The dossier service's own task queue (setting TEMPORAL_DOSSIER_TASK_QUEUE).
DOSSIER_TASK_QUEUE = "relance-dossier"

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class Activity(Generic[In, Out]):
    """An activity by name: the workflow schedules `name` on the host's queue, the host
    registers its function under `name` (`@activity.defn(name=...)`)."""

    name: str
    arg: Any
    result: Any  # None: the activity returns nothing


@dataclass(frozen=True)
class Update(Generic[In, Out]):
    name: str
    arg: Any
    result: Any


@dataclass(frozen=True)
class Signal(Generic[In]):
    name: str
    arg: Any


@dataclass(frozen=True)
class Query(Generic[Out]):
    name: str
    result: Any


class Refusal(StrEnum):
    """`ApplicationError.type` of every refusal an Update can answer with (from its
    validator, its handler or the activity it runs); the dossier API maps each to one
    HTTP answer."""

    # dossier workflow (F-10 .. F-13)
    INTERVENTION_CLOSED = "InterventionClosed"
    INTERVENTION_NOT_FOUND = "InterventionNotFound"
    ALREADY_PREPARED = "AlreadyPrepared"
    NOTHING_TO_CHANGE = "NothingToChange"
    INVALID_KIND = "InvalidKind"
    PROMISE_INCOMPLETE = "PromiseIncomplete"
    CONFIRMATION_REQUIRED = "ConfirmationRequired"
    NOT_DELETABLE = "NotDeletable"
    DOCUMENT_ATTACHED = "DocumentAttached"
    INTERVENTIONS_OPEN = "InterventionsOpen"
    NO_NEXT_STEP = "NoNextStep"
    SCENARIO_NOT_FOUND = "ScenarioNotFound"
    DOSSIER_NOT_FOUND = "DossierNotFound"
    # specific action workflow (F-15 .. F-20)
    ACTION_CLOSED = "ActionClosed"
    ACTION_NOT_FOUND = "ActionNotFound"
    NOT_AWAITING_CONFIRMATION = "NotAwaitingConfirmation"
    # transfer workflow (F-28 .. F-30)
    COMMENT_REQUIRED = "CommentRequired"
    TRANSFER_CLOSED = "TransferClosed"
    CANCELLATION_PENDING = "CancellationPending"
    CANCEL_IN_PROGRESS = "CancelInProgress"
    TRANSFER_NOT_FOUND = "TransferNotFound"
