"""The event envelope and one pydantic model per event payload.

Rules: fields are added, never changed; a breaking change gets a new `schema_version`
(and a new model) while consumers keep reading the old one. The envelope carries the
partition key (`client_id`) so one client's events stay ordered."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from relance import topics


class EventEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: UUID
    event_type: str
    schema_version: int
    occurred_at: datetime
    aggregate_id: str
    client_id: str
    actor: str | None = None
    payload: dict[str, Any]

    @property
    def topic(self) -> str:
        return EVENT_TYPES[(self.event_type, self.schema_version)].topic

    def payload_as(self, model: type["P"]) -> "P":
        return model.model_validate(self.payload)


class EventPayload(BaseModel):
    """Base of every payload: subclasses name their type, version and topic."""

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str]

    def envelope(
        self,
        *,
        aggregate_id: UUID | str,
        client_id: UUID | str,
        actor: str | None = None,
        event_id: UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> EventEnvelope:
        return EventEnvelope(
            event_id=event_id or uuid4(),
            event_type=self.event_type,
            schema_version=self.schema_version,
            occurred_at=occurred_at or datetime.now(UTC),
            aggregate_id=str(aggregate_id),
            client_id=str(client_id),
            actor=actor,
            payload=self.model_dump(mode="json"),
        )


P = EventPayload
EVENT_TYPES: dict[tuple[str, int], type[EventPayload]] = {}


def register(model: type[EventPayload]) -> type[EventPayload]:
    EVENT_TYPES[(model.event_type, model.schema_version)] = model
    return model


# ---- client.events -------------------------------------------------------------------


@register
class ClientCreated(EventPayload):
    event_type = "client.created"
    topic = topics.CLIENT_EVENTS
    client_id: UUID
    code: str
    name: str
    collector_id: UUID | None = None


@register
class ClientUpdated(EventPayload):
    event_type = "client.updated"
    topic = topics.CLIENT_EVENTS
    client_id: UUID
    code: str
    changed: dict[str, Any]


# ---- item.events ---------------------------------------------------------------------


@register
class ItemCreated(EventPayload):
    event_type = "item.created"
    topic = topics.ITEM_EVENTS
    item_id: UUID
    client_id: UUID
    dossier_id: UUID
    number: str
    kind: str
    due_date: date
    amount: Decimal
    open_amount: Decimal
    currency: str


# ---- dossier.events ------------------------------------------------------------------


@register
class DossierOpened(EventPayload):
    event_type = "dossier.opened"
    topic = topics.DOSSIER_EVENTS
    dossier_id: UUID
    client_id: UUID
    client_code: str
    kind: str = "active"
    scenario_code: str | None = None


# ---- contact.events ------------------------------------------------------------------


@register
class ContactCreated(EventPayload):
    event_type = "contact.created"
    topic = topics.CONTACT_EVENTS
    contact_id: UUID
    client_id: UUID
    name: str


# ---- intervention.events -------------------------------------------------------------


@register
class InterventionCreated(EventPayload):
    event_type = "intervention.created"
    topic = topics.INTERVENTION_EVENTS
    intervention_id: UUID
    dossier_id: UUID
    client_id: UUID
    action_type: str
    mode: str
    due_at: datetime
    step_index: int | None = None


@register
class InterventionCompleted(EventPayload):
    event_type = "intervention.completed"
    topic = topics.INTERVENTION_EVENTS
    intervention_id: UUID
    dossier_id: UUID
    client_id: UUID
    status: str  # done | skipped


# ---- communication.commands / communication.events ------------------------------------


class CommunicationItem(BaseModel):
    number: str
    kind: str
    issue_date: date | None = None
    due_date: date
    amount: Decimal
    open_amount: Decimal
    currency: str


@register
class CommunicationRequested(EventPayload):
    """A command to the notifier: render `template_code` for the client and send it on
    `channel` to the client's default validated contact of that channel (F-21, F-32)."""

    event_type = "communication.requested"
    topic = topics.COMMUNICATION_COMMANDS
    communication_id: UUID
    client_id: UUID
    client_code: str
    client_name: str
    channel: str  # email | sms | letter | internal_email
    template_code: str
    locale: str = "fr"
    dossier_id: UUID | None = None
    intervention_id: UUID | None = None
    items: list[CommunicationItem] = Field(default_factory=list)
    automatic: bool = True


@register
class CommunicationSent(EventPayload):
    event_type = "communication.sent"
    topic = topics.COMMUNICATION_EVENTS
    communication_id: UUID
    client_id: UUID
    channel: str
    recipient: str
    dossier_id: UUID | None = None
    intervention_id: UUID | None = None


@register
class CommunicationFailed(EventPayload):
    event_type = "communication.failed"
    topic = topics.COMMUNICATION_EVENTS
    communication_id: UUID
    client_id: UUID
    channel: str
    reason: str
    needs_attention: bool = False
    dossier_id: UUID | None = None
    intervention_id: UUID | None = None


# ---- transfer.events (F-27 … F-30): written by the dossier API and the transfer workflow --


class TransferItem(BaseModel):
    item_id: UUID
    number: str
    kind: str
    issue_date: date | None = None
    due_date: date
    amount: Decimal
    open_amount: Decimal
    currency: str


@register
class TransferCreated(EventPayload):
    """Items moved from the active dossier to a new transfer dossier; the bridge starts the
    transfer workflow (`transfer-{transfer_id}`) on this event, so there is no dual write."""

    event_type = "transfer.created"
    topic = topics.TRANSFER_EVENTS
    transfer_id: UUID  # the transfer dossier's id
    client_id: UUID
    client_code: str
    agency_code: str
    item_ids: list[UUID]
    next_follow_up_date: date
    opening_comment: str
    created_at: datetime


@register
class TransferPlaced(EventPayload):
    """The 24-hour window ended without a cancellation: the gateway delivers the placement
    to the agency (webhook, or the pull API)."""

    event_type = "transfer.placed"
    topic = topics.TRANSFER_EVENTS
    transfer_id: UUID
    client_id: UUID
    client_code: str
    client_name: str
    agency_code: str
    items: list[TransferItem]
    opening_comment: str
    next_follow_up_date: date
    placed_at: datetime


@register
class TransferCancellationRequested(EventPayload):
    """F-29: cancelled after the window: the gateway relays the request to the agency."""

    event_type = "transfer.cancellation_requested"
    topic = topics.TRANSFER_EVENTS
    transfer_id: UUID
    client_id: UUID
    agency_code: str
    comment: str
    requested_by: str
    requested_at: datetime


@register
class TransferCancelled(EventPayload):
    """The items are back in the active dossier and the transfer dossier is closed:
    `immediate` within the window (F-28), `agency_validated` after it (F-29)."""

    event_type = "transfer.cancelled"
    topic = topics.TRANSFER_EVENTS
    transfer_id: UUID
    client_id: UUID
    agency_code: str
    mode: str  # immediate | agency_validated
    comment: str
    item_ids: list[UUID]


@register
class TransferCancellationRefused(EventPayload):
    event_type = "transfer.cancellation_refused"
    topic = topics.TRANSFER_EVENTS
    transfer_id: UUID
    client_id: UUID
    agency_code: str
    reason: str


@register
class TransferAgencyAnswerOverdue(EventPayload):
    """F-30: the agency has not answered a cancellation request within the set delay."""

    event_type = "transfer.agency_answer_overdue"
    topic = topics.TRANSFER_EVENTS
    transfer_id: UUID
    client_id: UUID
    agency_code: str
    requested_at: datetime
    overdue_since: datetime


# ---- agency.events (F-31): written by the transfer gateway from what agencies send ------


@register
class AgencyPlacementAcknowledged(EventPayload):
    event_type = "agency.placement_acknowledged"
    topic = topics.AGENCY_EVENTS
    transfer_id: UUID
    client_id: UUID
    agency_code: str
    agency_reference: str | None = None


@register
class AgencyCancellationValidated(EventPayload):
    event_type = "agency.cancellation_validated"
    topic = topics.AGENCY_EVENTS
    transfer_id: UUID
    client_id: UUID
    agency_code: str
    comment: str | None = None


@register
class AgencyCancellationRefused(EventPayload):
    event_type = "agency.cancellation_refused"
    topic = topics.AGENCY_EVENTS
    transfer_id: UUID
    client_id: UUID
    agency_code: str
    reason: str


@register
class AgencyPaymentCollected(EventPayload):
    event_type = "agency.payment_collected"
    topic = topics.AGENCY_EVENTS
    payment_id: str  # the agency's own id for the payment: a replay is recognised by it
    transfer_id: UUID
    client_id: UUID
    agency_code: str
    item_number: str
    amount: Decimal
    currency: str = "EUR"
    collected_on: date


@register
class AgencyStatusUpdated(EventPayload):
    event_type = "agency.status_updated"
    topic = topics.AGENCY_EVENTS
    transfer_id: UUID
    client_id: UUID
    agency_code: str
    status: str
    comment: str | None = None
