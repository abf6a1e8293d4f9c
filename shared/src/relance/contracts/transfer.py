"""The transfer workflow's contract (F-27 … F-30): its states, one pydantic model per
input and output of the workflow, its activities, signals, query and Update, and their
names."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from relance import search_attributes as sa
from relance.contracts import DOSSIER_TASK_QUEUE, Activity, Query, Signal, Update
from relance.events import AgencyMessageSent


class TransferState(StrEnum):
    IN_WINDOW = "in_window"  # created, the agency knows nothing yet
    PLACED = "placed"  # the window ended: the placement went to the agency
    PLACED_ACKNOWLEDGED = "placed_acknowledged"
    CANCELLATION_PENDING = "cancellation_pending"  # F-29: waiting for the agency's answer
    CLOSED = "closed"  # cancelled (immediately or validated by the agency)


class CancellationMode(StrEnum):
    IMMEDIATE = "immediate"  # F-28
    REQUEST = "request"  # F-29


class TransferWorkflowInput(BaseModel):
    transfer_id: UUID
    client_id: UUID
    client_code: str
    agency_code: str
    created_at: datetime
    # F-28: the window's end as the dossier fixed it with the transfer; the starter set
    # the search attributes with the start, so the workflow neither records the end nor
    # upserts them. None for the workflows started before: they compute it from
    # `window_seconds` and record it (kept so their histories replay).
    window_ends_at: datetime | None = None
    window_seconds: float = 86400  # F-28: 24 h unless configured for demos
    answer_delay_seconds: float = 5 * 86400  # F-30: agency answer overdue after this
    dossier_task_queue: str = DOSSIER_TASK_QUEUE  # where its activities run
    # Carried over continue-as-new:
    state: TransferState = TransferState.IN_WINDOW
    cancellation_requested_at: datetime | None = None
    answer_overdue: bool = False
    acknowledged: bool = False  # the agency acknowledged the placement
    seen_event_ids: list[str] = Field(default_factory=list)


def start_search_attributes(input: TransferWorkflowInput) -> TypedSearchAttributes:
    """The search attributes a transfer workflow starts with, set by whoever starts it (the
    bridge, or a cancel's update-with-start): an SRE finds it by client, agency and state
    from its first moment, and its history holds no upsert for them."""
    return TypedSearchAttributes([
        SearchAttributePair(sa.CLIENT_CODE, input.client_code),
        SearchAttributePair(sa.AGENCY, input.agency_code),
        SearchAttributePair(sa.TRANSFER_STATE, input.state.value),
        SearchAttributePair(sa.AGENCY_ANSWER_OVERDUE, input.answer_overdue),
    ])


class TransferStatus(BaseModel):
    """Query answer."""

    state: TransferState
    window_ends_at: datetime
    cancellation_requested_at: datetime | None = None
    answer_overdue: bool = False


class CancelTransfer(BaseModel):
    """Update input: the collector's cancel command, with its required comment."""

    comment: str
    requested_by: str


class CancelTransferResult(BaseModel):
    """Update output: which case applied (F-28 immediate, F-29 request) and the state."""

    mode: CancellationMode
    state: TransferState


class AgencyPlacementAck(BaseModel):
    """Signal: the agency acknowledged the placement."""

    event_id: str
    agency_reference: str | None = None


class AgencyCancellationAnswer(BaseModel):
    """Signal: the agency validated (`validated`) or refused the cancellation request."""

    event_id: str
    validated: bool
    comment: str | None = None  # the agency's comment or refusal reason


class AgencyPayment(BaseModel):
    """Signal: the agency collected a payment on one of the transferred items."""

    event_id: str
    payment_id: str
    item_number: str
    amount: Decimal
    collected_on: date


class AgencyStatus(BaseModel):
    """Signal: the agency's own status of the file."""

    event_id: str
    status: str
    comment: str | None = None


class AgencyMessage(BaseModel):
    """Signal: the agency wrote on the placement (F-41)."""

    event_id: str
    message: AgencyMessageSent


# ---- activity inputs / outputs ------------------------------------------------------


class RecordWindowRequest(BaseModel):
    transfer_id: UUID
    window_ends_at: datetime


class PlaceTransferRequest(BaseModel):
    transfer_id: UUID
    placed_at: datetime


class ReturnItemsRequest(BaseModel):
    """Close the transfer: items back to the active dossier (F-28 immediate, F-29 validated)."""

    transfer_id: UUID
    mode: str  # immediate | agency_validated
    comment: str
    actor: str


class RequestCancellationRequest(BaseModel):
    transfer_id: UUID
    comment: str
    requested_by: str
    requested_at: datetime


class RefuseCancellationRequest(BaseModel):
    transfer_id: UUID
    reason: str
    state: TransferState  # the state the transfer goes back to


class AcknowledgePlacementRequest(BaseModel):
    transfer_id: UUID
    agency_reference: str | None = None


class MarkAnswerOverdueRequest(BaseModel):
    transfer_id: UUID
    requested_at: datetime
    overdue_since: datetime


class ApplyPaymentRequest(BaseModel):
    transfer_id: UUID
    payment_id: str
    item_number: str
    amount: Decimal
    collected_on: date


class ApplyPaymentResult(BaseModel):
    applied: Decimal
    item_found: bool
    replay: bool


class RecordAgencyStatusRequest(BaseModel):
    transfer_id: UUID
    status: str
    comment: str | None = None


class RecordAgencyMessageRequest(BaseModel):
    message: AgencyMessageSent


# ---- names ----------------------------------------------------------------------------

WORKFLOW_TYPE = "TransferWorkflow"

STATUS = Query[TransferStatus]("status", TransferStatus)
CANCEL = Update[CancelTransfer, CancelTransferResult]("cancel", CancelTransfer, CancelTransferResult)
PLACEMENT_ACKNOWLEDGED = Signal[AgencyPlacementAck]("placement_acknowledged", AgencyPlacementAck)
CANCELLATION_ANSWERED = Signal[AgencyCancellationAnswer](
    "cancellation_answered", AgencyCancellationAnswer)
PAYMENT_COLLECTED = Signal[AgencyPayment]("payment_collected", AgencyPayment)
AGENCY_STATUS_UPDATED = Signal[AgencyStatus]("agency_status_updated", AgencyStatus)
AGENCY_MESSAGE_SENT = Signal[AgencyMessage]("agency_message_sent", AgencyMessage)

RECORD_WINDOW = Activity[RecordWindowRequest, None]("record_window", RecordWindowRequest, None)
PLACE_TRANSFER = Activity[PlaceTransferRequest, bool]("place_transfer", PlaceTransferRequest, bool)
RETURN_ITEMS = Activity[ReturnItemsRequest, list[UUID]](
    "return_items", ReturnItemsRequest, list[UUID])
REQUEST_CANCELLATION = Activity[RequestCancellationRequest, bool](
    "request_cancellation", RequestCancellationRequest, bool)
REFUSE_CANCELLATION = Activity[RefuseCancellationRequest, bool](
    "refuse_cancellation", RefuseCancellationRequest, bool)
ACKNOWLEDGE_PLACEMENT = Activity[AcknowledgePlacementRequest, None](
    "acknowledge_placement", AcknowledgePlacementRequest, None)
MARK_ANSWER_OVERDUE = Activity[MarkAnswerOverdueRequest, bool](
    "mark_answer_overdue", MarkAnswerOverdueRequest, bool)
APPLY_PAYMENT = Activity[ApplyPaymentRequest, ApplyPaymentResult](
    "apply_payment", ApplyPaymentRequest, ApplyPaymentResult)
RECORD_AGENCY_STATUS = Activity[RecordAgencyStatusRequest, None](
    "record_agency_status", RecordAgencyStatusRequest, None)
RECORD_AGENCY_MESSAGE = Activity[RecordAgencyMessageRequest, None](
    "record_agency_message", RecordAgencyMessageRequest, None)
