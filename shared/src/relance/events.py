"""The event envelope and one pydantic model per event payload.

Rules: fields are added, never changed; a breaking change gets a new `schema_version`
(and a new model) while consumers keep reading the old one. The envelope carries the
partition key (`client_id`) so one client's events stay ordered."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from relance import topics


class PayloadClaim(BaseModel):
    """Stands for a payload too large for a message, kept by the event's writer and read
    back by the consumer (relance.claims)."""

    size_bytes: int
    sha256: str


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
    # Set, with an empty payload, when the payload stayed with the writer (relance.claims).
    payload_claim: PayloadClaim | None = None

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


# The payload model a caller asks for: `payload_as(TransferPlaced)` is a TransferPlaced.
P = TypeVar("P", bound=EventPayload)
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
    # The item's status and its comment (F-2), shown in internal emails (F-16).
    status: str | None = None
    status_comment: str | None = None


class CommunicationTemplate(BaseModel):
    """The template the dossier resolved for a command (the dossier owns templates)."""

    code: str
    channel: str
    locale: str = "fr"
    subject: str = ""
    body: str


class CommunicationContact(BaseModel):
    """One of the client's contact channels of the command's type, any state: the
    notifier chooses among them (F-21)."""

    type: str  # postal | email | phone
    value: str
    state: str  # pending | validated | invalid
    is_default: bool
    # F-39: the language of the channel's contact (fr, en, en-GB…); None: the client's.
    language: str | None = None


class CommunicationLateFee(BaseModel):
    """F-38: the late-payment interest and the recovery indemnity owed on the command's
    items, in one currency, computed by the dossier when it writes the command."""

    currency: str
    interest: Decimal
    indemnity: Decimal


class CommunicationDocument(BaseModel):
    """A file the notifier produced for the client (a letter's PDF, F-26): the dossier
    records it among the client's attachments. The file itself is under DATA_DIR."""

    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    storage_path: str  # relative to DATA_DIR
    description: str | None = None


# Rendered bodies travel in outcome events, capped well under the broker's 1 MiB message
# limit (Failure rules); `body_truncated` says when the cap cut one.
BODY_CAP_BYTES = 256 * 1024


def capped_body(body: str | None, cap: int = BODY_CAP_BYTES) -> tuple[str | None, bool]:
    """`body` cut to at most `cap` UTF-8 bytes (never inside a character), and whether it was."""
    if body is None:
        return None, False
    encoded = body.encode("utf-8")
    if len(encoded) <= cap:
        return body, False
    return encoded[:cap].decode("utf-8", errors="ignore"), True


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
    # A manual communication may name the contact channel value to use (F-21); it must be
    # one of the client's channels of the right type, never an invalid one.
    contact_value: str | None = None
    # Internal interactive email to a colleague (channel internal_email, F-16).
    recipient_email: str | None = None
    link_url: str | None = None
    sender: str | None = None
    note: str | None = None
    # F-17: a specific action's own text, written or copied then edited, replaces the
    # template's (tags and Jinja rendered the same way).
    subject: str | None = None
    body: str | None = None
    # Resolved by the dossier when it writes the command, so the notifier reads no
    # dossier table: the template of `template_code` (None: unknown, or none needed) and
    # the client's contact channels of the channel's type (F-21).
    template: CommunicationTemplate | None = None
    contact_channels: list[CommunicationContact] = Field(default_factory=list)
    # F-39: every locale's version of the template; the notifier uses the one of the
    # chosen contact's language, else `template` (the client's locale, else the fallback).
    templates: list[CommunicationTemplate] = Field(default_factory=list)
    # F-38: the fees owed on `items` per currency at send time (#late_interest,
    # #recovery_indemnity); empty when none.
    late_fees: list[CommunicationLateFee] = Field(default_factory=list)


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
    # A letter's PDF, stored as a client document (attachments, source 'letter').
    attachment_id: UUID | None = None
    # What the client's trace shows (F-23); the dossier keeps the trace from these.
    template_code: str | None = None
    subject: str | None = None
    body: str | None = None  # capped at BODY_CAP_BYTES
    body_truncated: bool = False
    attempts: int = 1
    sent_at: datetime | None = None
    provider_ref: str | None = None
    document: CommunicationDocument | None = None  # the letter's PDF, when attachment_id


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
    # What the client's trace shows (F-23): `status` is failed or needs_attention (no
    # usable contact: a collector must act).
    status: str = "failed"
    template_code: str | None = None
    recipient: str | None = None
    attempts: int = 0


# ---- transfer.events (F-27 … F-30): written by the dossier API and the transfer workflow --


class PlacedDocument(BaseModel):
    """F-41: a file of the client the agency fetches through the gateway's signed API
    (`GET /agency/v1/placements/{transfer_id}/documents/{document_id}`)."""

    document_id: UUID
    file_name: str
    content_type: str
    size_bytes: int
    description: str | None = None


class TransferItem(BaseModel):
    item_id: UUID
    number: str
    kind: str
    issue_date: date | None = None
    due_date: date
    amount: Decimal
    open_amount: Decimal
    currency: str
    # F-41: the files attached to this item (an invoice's copy, a delivery note).
    documents: list[PlacedDocument] = Field(default_factory=list)


class PlacedChannel(BaseModel):
    type: str  # postal | email | phone
    value: str
    is_default: bool = False


class PlacedContact(BaseModel):
    """F-41: a debtor's contact with its validated channels only (F-21)."""

    name: str
    role: str | None = None
    channels: list[PlacedChannel]


class PlacedAction(BaseModel):
    """F-41: one line of the dossier's history: an intervention or a communication."""

    at: datetime
    kind: str  # intervention | communication
    action: str  # the action type (email, call, …) or the channel
    status: str
    description: str | None = None
    comment: str | None = None


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
    # F-28: the window's end, fixed with the transfer (created_at + the window setting of
    # the time); absent from the events written before it was carried here.
    window_ends_at: datetime | None = None


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
    # F-41: what the agency needs to work the file.
    contacts: list[PlacedContact] = Field(default_factory=list)
    documents: list[PlacedDocument] = Field(default_factory=list)  # not tied to one item
    history: list[PlacedAction] = Field(default_factory=list)


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


class AgencyDocument(BaseModel):
    """F-41: a file an agency sent on a placement, kept by the gateway until the dossier
    service has copied it (`GET /internal/agency-documents/{document_id}`)."""

    document_id: UUID
    file_name: str
    content_type: str
    size_bytes: int
    sha256: str


@register
class AgencyMessageSent(EventPayload):
    """F-41: the agency wrote on a placement, with documents or not; the collector reads it
    in the transfer's history and finds the documents among the client's files."""

    event_type = "agency.message_sent"
    topic = topics.AGENCY_EVENTS
    message_id: UUID
    transfer_id: UUID
    client_id: UUID
    agency_code: str
    body: str
    documents: list[AgencyDocument] = Field(default_factory=list)
    sent_at: datetime


# ---- contacts, notes, attachments (F-21, F-22, F-25, F-26) ------------------------------


@register
class ContactUpdated(EventPayload):
    """F-22: the contact's name or observation (its role) changed."""

    event_type = "contact.updated"
    topic = topics.CONTACT_EVENTS
    contact_id: UUID
    client_id: UUID
    changed: dict[str, Any]


@register
class ContactChannelAdded(EventPayload):
    event_type = "contact.channel_added"
    topic = topics.CONTACT_EVENTS
    channel_id: UUID
    contact_id: UUID
    client_id: UUID
    type: str  # postal | email | phone
    state: str  # pending | validated | invalid
    is_default: bool


@register
class ContactChannelChanged(EventPayload):
    """F-21, F-22: a channel's value or status changed (validated, invalidated, validation
    cancelled, made default, or no longer the default because another one became it)."""

    event_type = "contact.channel_changed"
    topic = topics.CONTACT_EVENTS
    channel_id: UUID
    contact_id: UUID
    client_id: UUID
    type: str
    action: str  # edit | validate | invalidate | cancel-validation | make-default | default-moved
    state: str
    is_default: bool


@register
class ClientNoteAdded(EventPayload):
    event_type = "client.note_added"
    topic = topics.CLIENT_EVENTS
    note_id: UUID
    client_id: UUID
    author: str


@register
class ClientAttachmentAdded(EventPayload):
    event_type = "client.attachment_added"
    topic = topics.CLIENT_EVENTS
    attachment_id: UUID
    client_id: UUID
    filename: str
    content_type: str
    size_bytes: int
    source: str = "upload"


@register
class ClientAttachmentDeleted(EventPayload):
    event_type = "client.attachment_deleted"
    topic = topics.CLIENT_EVENTS
    attachment_id: UUID
    client_id: UUID


# ---- item.events written by the transfer side (F-27 … F-30) ---------------------------


@register
class ItemsMoved(EventPayload):
    """Items changed holder between the active dossier and a transfer dossier (F-2, F-27,
    F-28, F-29). `dossier_id` is the client's active dossier, so its scenario re-plans."""

    event_type = "item.moved"
    topic = topics.ITEM_EVENTS
    client_id: UUID
    dossier_id: UUID
    from_dossier_id: UUID
    to_dossier_id: UUID
    item_ids: list[UUID]
    reason: str  # transferred | transfer_cancelled


@register
class ItemPaymentApplied(EventPayload):
    """A payment an agency collected lowered an item's open amount."""

    event_type = "item.payment_applied"
    topic = topics.ITEM_EVENTS
    item_id: UUID
    client_id: UUID
    dossier_id: UUID
    payment_id: str
    agency_code: str
    amount: Decimal
    open_amount: Decimal


# ---- client.events: collector assignment (F-5, F-6, F-8, F-24) ------------------------


@register
class ClientCollectorChanged(EventPayload):
    """The client's collector changed: on the card or contact block (`card`), in mass on
    a selection (`mass`), by the assignment rules / default collector (`automatic`), or
    by the ERP import's collector code (`import`).
    `collector_id` None means the client was left without a collector."""

    event_type = "client.collector_changed"
    topic = topics.CLIENT_EVENTS
    client_id: UUID
    code: str
    previous_collector_id: UUID | None = None
    previous_collector_code: str | None = None
    collector_id: UUID | None = None
    collector_code: str | None = None
    source: str
    comment: str | None = None


# ---- dossier.events: specific actions (F-15 .. F-20) ------------------------------------


@register
class SpecificActionCreated(EventPayload):
    """A specific action on selected items of one client; the bridge starts its workflow
    (`action-{action_id}`) on this event, so there is no dual write."""

    event_type = "specific_action.created"
    topic = topics.DOSSIER_EVENTS
    action_id: UUID
    client_id: UUID
    dossier_id: UUID
    item_ids: list[UUID]
    action_type: str
    mode: str  # automatic | automatic_to_confirm | manual
    due_at: datetime
    client_code: str | None = None
    collector_code: str | None = None


@register
class ItemsStatusSet(EventPayload):
    """F-16 step 1: a collector set a status and comment on selected items (dispute,
    promise, litigation…); `dossier_id` is the active dossier, so its scenario re-plans."""

    event_type = "item.status_set"
    topic = topics.ITEM_EVENTS
    client_id: UUID
    dossier_id: UUID
    item_ids: list[UUID]
    status: str | None
    comment: str | None = None


# ---- ERP import (F-3): one event per client touched by an import, not one per row -----


@register
class ItemBatchImported(EventPayload):
    """An ERP import inserted or changed items of one client. A nightly file touches
    millions of items, so the import writes one event per client (set-based, in SQL) and
    lists at most `ITEM_NUMBERS_CAP` item numbers; `dossier_id` is the client's active
    dossier, whose workflow re-plans on it."""

    ITEM_NUMBERS_CAP: ClassVar[int] = 100
    event_type = "item.batch_imported"
    topic = topics.ITEM_EVENTS
    import_id: UUID
    client_id: UUID
    dossier_id: UUID
    inserted: int
    updated: int
    item_numbers: list[str]
    item_numbers_truncated: bool = False


@register
class ItemPaymentsApplied(EventPayload):
    """Imported payments lowered the open amounts of one client's items (never below 0);
    `settled_item_numbers` are the items whose open amount reached 0 (F-2)."""

    event_type = "item.payments_applied"
    topic = topics.ITEM_EVENTS
    import_id: UUID
    client_id: UUID
    dossier_id: UUID
    payments: int
    amount_applied: Decimal
    item_numbers: list[str]
    settled_item_numbers: list[str]
    references: list[str]
    truncated: bool = False


# ---- communication.events: delivery reports (notifier, F-32) ----------------------------


@register
class CommunicationDeliveryUpdated(EventPayload):
    """The SMS provider reported the final delivery of a sent communication (its callback):
    `delivered` to the handset, or `undelivered` (expired, unknown number, …) with why."""

    event_type = "communication.delivery_updated"
    topic = topics.COMMUNICATION_EVENTS
    communication_id: UUID
    client_id: UUID
    channel: str
    delivery_status: str  # delivered | undelivered
    provider_ref: str | None = None
    reason: str | None = None
    dossier_id: UUID | None = None
    intervention_id: UUID | None = None


# ---- dossier.events: payment plans and holds (F-37) -------------------------------------


@register
class PaymentPlanCreated(EventPayload):
    """F-37: a collector agreed instalments with a client on some of its open items; the
    bridge starts the plan's workflow (`payment-plan-{plan_id}`) on this event, so there is
    no dual write. The workflow reads the instalments from the dossier service."""

    event_type = "payment_plan.created"
    topic = topics.DOSSIER_EVENTS
    plan_id: UUID
    client_id: UUID
    dossier_id: UUID
    item_ids: list[UUID]
    instalments: int
    total_amount: Decimal
    currency: str
    client_code: str | None = None
    collector_code: str | None = None


@register
class PaymentPlanCancelled(EventPayload):
    """F-37: a collector cancelled an active plan; its items are back in the scenario and
    the bridge tells the plan's workflow to stop watching."""

    event_type = "payment_plan.cancelled"
    topic = topics.DOSSIER_EVENTS
    plan_id: UUID
    client_id: UUID
    dossier_id: UUID
    comment: str | None = None


@register
class ClientHoldChanged(EventPayload):
    """F-37: a temporary hold of the client's dunning was set (`hold_until` the day dunning
    resumes) or lifted (`hold_until` None); `dossier_id` is the active dossier, whose
    scenario re-plans."""

    event_type = "dossier.hold_changed"
    topic = topics.DOSSIER_EVENTS
    client_id: UUID
    dossier_id: UUID
    hold_until: date | None = None
    reason: str | None = None


# ---- erp.events (F-42) -------------------------------------------------------------------
# Published by the ERP, not by Relance: the envelope's `client_id` and `aggregate_id` are the
# ERP's keys (client code; client code and item number). Each payload has the columns of the
# file import of its kind (F-3) and goes through the same checks and upserts.


@register
class ErpClientUpserted(EventPayload):
    """A client account created or changed in the ERP (the columns of a client import)."""

    event_type = "erp.client.upserted"
    topic = topics.ERP_EVENTS
    code: str
    name: str
    country: str | None = None
    segment: str | None = None
    category: str | None = None
    tags: list[str] | None = None
    risk: str | None = None
    collector_code: str | None = None
    scenario_code: str | None = None
    locale: str | None = None


@register
class ErpItemUpserted(EventPayload):
    """An invoice or credit note created or changed in the ERP (an item import's columns);
    `open_amount` is what is still owed, the amount when absent."""

    event_type = "erp.item.upserted"
    topic = topics.ERP_EVENTS
    client_code: str
    number: str
    kind: str = "invoice"
    issue_date: date | None = None
    due_date: date
    amount: Decimal
    open_amount: Decimal | None = None
    currency: str = "EUR"


@register
class ErpPaymentRecorded(EventPayload):
    """A payment the ERP allocated to one item (a payment import's columns); `reference` is
    the ERP's payment id: the same payment again changes nothing."""

    event_type = "erp.payment.recorded"
    topic = topics.ERP_EVENTS
    client_code: str
    item_number: str
    item_kind: str = "invoice"
    amount: Decimal
    paid_on: date
    reference: str
