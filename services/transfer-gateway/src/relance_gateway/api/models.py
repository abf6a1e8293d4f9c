"""Request and response models of the gateway's APIs, with the examples the OpenAPI
document shows to an agency integrating alone (F-31)."""

import base64
import binascii
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from relance.events import PlacedAction, PlacedContact, PlacedDocument, TransferItem

AGENCY_CODE_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{1,31}$"


# ---- admin: the agencies registry ---------------------------------------------------------


class AgencyCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"code": "RECOUVEO", "name": "Recouvéo", "webhook_url": "https://agency.example/relance/webhooks"},
        {"code": "PULLCO", "name": "Pull-only agency", "webhook_url": None},
    ]})

    code: str = Field(pattern=AGENCY_CODE_PATTERN,
                      description="Upper-case code; transfers name the agency by it")
    name: str = Field(min_length=1, max_length=200)
    webhook_url: HttpUrl | None = Field(
        None, description="Where placements and cancellation requests are pushed; none for a "
        "pull-only agency. https, on a public address (no loopback, private or link-local "
        "address, checked again after DNS resolution at each send)")
    active: bool = True


class AgencyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    webhook_url: HttpUrl | None = None
    active: bool | None = None


class Agency(BaseModel):
    code: str
    name: str
    webhook_url: str | None
    active: bool
    active_secrets: int = Field(description="Signing secrets currently accepted (two during a rotation)")
    created_at: datetime
    updated_at: datetime


class AgencyCredentials(BaseModel):
    """Shown once: only the API key's hash is stored, and secrets are never shown again."""

    api_key: str | None = Field(None, examples=["ak_Jx0…"])
    signing_secret: str | None = Field(None, examples=["whsec_3f9…"])


class AgencyCreated(Agency):
    credentials: AgencyCredentials


class Delivery(BaseModel):
    id: UUID
    message_id: UUID
    agency_code: str
    kind: str
    transfer_id: UUID
    url: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None = Field(description="Why the last attempt failed: the status code "
                                   "and its standard reason, or the network error; never the "
                                   "agency's answer body")
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None


# ---- agency API ---------------------------------------------------------------------------


class Message(BaseModel):
    """A placement or a cancellation request, as pushed by webhook and listed by the pull API."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "0b7c5e1e-8a51-4a8e-9a43-1f3c1c0f6b10", "type": "placement",
        "created_at": "2026-11-24T09:00:00+00:00", "agency_code": "RECOUVEO",
        "data": {"transfer_id": "5f0e…", "client_code": "C-ACME", "client_name": "Acme SA",
                 "items": [{"item_id": "…", "number": "INV-1001", "kind": "invoice",
                            "issue_date": "2026-09-01", "due_date": "2026-10-01",
                            "amount": "1200.00", "open_amount": "1200.00", "currency": "EUR"}],
                 "opening_comment": "Client unreachable since September",
                 "next_follow_up_date": "2026-12-15", "placed_at": "2026-11-24T09:00:00+00:00"},
    }, {
        "id": "4d2b…", "type": "cancellation_request", "created_at": "2026-11-26T14:00:00+00:00",
        "agency_code": "RECOUVEO",
        "data": {"transfer_id": "5f0e…", "comment": "Client paid us directly",
                 "requested_at": "2026-11-26T14:00:00+00:00"},
    }]})

    id: UUID = Field(description="The event id: deduplicate on it (a webhook may come twice)")
    type: Literal["placement", "cancellation_request"]
    created_at: datetime
    agency_code: str
    data: dict[str, Any]
    acknowledged_at: datetime | None = None


class MessageList(BaseModel):
    messages: list[Message]


class MessageAcknowledged(BaseModel):
    id: UUID
    acknowledged_at: datetime


_DOCUMENT_EXAMPLE: dict[str, Any] = {"document_id": "0b7e…", "file_name": "INV-1001.pdf",
                                     "content_type": "application/pdf", "size_bytes": 48213,
                                     "description": "Invoice copy"}


class PlacementContent(BaseModel):
    """What was placed (F-27, F-41): the items with their documents, the debtor's validated
    contacts, the client's other documents and the dossier's history. Fetch a document
    with `GET /agency/v1/placements/{transfer_id}/documents/{document_id}`."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "transfer_id": "5f0e…", "client_code": "C-ACME", "client_name": "ACME Industries",
        "items": [{"item_id": "41d2…", "number": "INV-1001", "kind": "invoice",
                   "issue_date": "2026-09-01", "due_date": "2026-10-01", "amount": "1200.00",
                   "open_amount": "900.00", "currency": "EUR", "documents": [_DOCUMENT_EXAMPLE]}],
        "opening_comment": "Three reminders without an answer", "next_follow_up_date": "2026-12-15",
        "placed_at": "2026-11-24T09:00:00+00:00",
        "contacts": [{"name": "Jeanne Martin", "role": "Accounts payable", "channels": [
            {"type": "email", "value": "jeanne.martin@acme.example", "is_default": True},
            {"type": "phone", "value": "+33612345678", "is_default": True}]}],
        "documents": [{**_DOCUMENT_EXAMPLE, "document_id": "7c19…", "file_name": "relance-2.pdf",
                       "description": "Second reminder letter"}],
        "history": [{"at": "2026-10-08T09:00:00+02:00", "kind": "communication", "action": "email",
                     "status": "sent", "description": "Rappel : facture échue", "comment": None},
                    {"at": "2026-10-20T09:00:00+02:00", "kind": "intervention", "action": "call",
                     "status": "done", "description": "Appeler le client",
                     "comment": "Promised to pay, did not"}],
    }]})

    transfer_id: UUID
    client_code: str
    client_name: str
    items: list[TransferItem]
    opening_comment: str
    next_follow_up_date: date
    placed_at: datetime
    contacts: list[PlacedContact] = Field(
        default_factory=list, description="The debtor's contacts with their validated channels only")
    documents: list[PlacedDocument] = Field(
        default_factory=list, description="The client's documents not tied to one item (letters sent, …)")
    history: list[PlacedAction] = Field(
        default_factory=list, description="The dossier's interventions and communications, oldest first")


class Placement(BaseModel):
    transfer_id: UUID
    client_code: str
    status: Literal["placed", "cancellation_requested", "cancelled"]
    acknowledged_at: datetime | None
    agency_reference: str | None
    agency_status: str | None
    cancellation_comment: str | None
    refusal_reason: str | None
    placed_at: datetime
    placement: PlacementContent = Field(description="The placement as sent")


class AdminPlacement(Placement):
    agency_code: str
    client_id: UUID


class PlacementList(BaseModel):
    placements: list[Placement]


class Acknowledgement(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"agency_reference": "RCV-2026-00042"}]})

    agency_reference: str | None = Field(None, max_length=100, description="Your own file number")


class CancellationValidation(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"comment": "Case closed on our side"}]})

    comment: str | None = Field(None, max_length=2000)


class CancellationRefusal(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "A payment plan is already signed"}]})

    reason: str = Field(min_length=1, max_length=2000, description="Required: shown to the collector")


class PaymentCollected(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "payment_id": "PAY-778", "item_number": "INV-1001", "amount": "300.00",
        "currency": "EUR", "collected_on": "2026-12-02"}]})

    payment_id: str = Field(min_length=1, max_length=100,
                            description="Your id for the payment: reporting it twice is refused")
    item_number: str = Field(min_length=1, max_length=100)
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    collected_on: date


class StatusUpdate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "amicable_phase", "comment": "First call done"}]}
    )

    status: str = Field(min_length=1, max_length=100, description="Your status for the file, free text")
    comment: str | None = Field(None, max_length=2000)


class Accepted(BaseModel):
    """What every inbound POST answers; replays with the same Idempotency-Key get it verbatim."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "transfer_id": "5f0e…", "event": "agency.placement_acknowledged",
        "event_id": "9a1c…", "status": "placed", "received_at": "2026-11-24T09:05:00+00:00"}]})

    transfer_id: UUID
    event: str = Field(description="The event Relance recorded")
    event_id: UUID
    status: str = Field(description="The placement's status after this call")
    received_at: datetime


# ---- F-41: messages and documents from the agency ------------------------------------------

# What a collector can open from the client card; each file decoded at most this size.
AGENCY_DOCUMENT_MAX_BYTES = 5 * 1024 * 1024
AGENCY_DOCUMENTS_PER_MESSAGE = 5


class AgencyDocumentIn(BaseModel):
    file_name: str = Field(min_length=1, max_length=255, examples=["mise-en-demeure.pdf"])
    content_type: Literal["application/pdf", "image/png", "image/jpeg", "text/plain"]
    content_base64: str = Field(description=f"The file's bytes in base64 (standard alphabet), at "
                                            f"most {AGENCY_DOCUMENT_MAX_BYTES} bytes once decoded")

    @field_validator("file_name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        plain = PurePath(name.replace("\\", "/")).name.strip()
        if plain != name.strip() or not plain or "\x00" in plain:
            raise ValueError("a file name without a directory or a NUL character")
        return plain

    @field_validator("content_base64")
    @classmethod
    def _decodes(cls, encoded: str) -> str:
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not valid base64") from None
        if not content:
            raise ValueError("the file is empty")
        if len(content) > AGENCY_DOCUMENT_MAX_BYTES:
            raise ValueError(f"the file is larger than {AGENCY_DOCUMENT_MAX_BYTES} bytes")
        return encoded

    def content(self) -> bytes:
        return base64.b64decode(self.content_base64)


class AgencyMessageIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "body": "Formal notice sent by registered letter; copy attached.",
        "documents": [{"file_name": "mise-en-demeure.pdf", "content_type": "application/pdf",
                       "content_base64": "JVBERi0xLjQKJSBmb3JtYWwgbm90aWNlCg=="}]}]})

    body: str = Field(min_length=1, max_length=10_000, description="Shown to the collector in the "
                                                                   "transfer's history")
    documents: list[AgencyDocumentIn] = Field(
        default_factory=list, max_length=AGENCY_DOCUMENTS_PER_MESSAGE,
        description="Files the collector finds among the client's files, as `agency` files")

    @field_validator("body")
    @classmethod
    def _not_blank(cls, body: str) -> str:
        if not body.strip():
            raise ValueError("the message must not be blank")
        return body
