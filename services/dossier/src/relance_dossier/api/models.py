"""Request and response models of the dossier API."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from relance.validation import CODE_MAX_LENGTH, CODE_PATTERN

ChannelType = Literal["postal", "email", "phone"]
ChannelState = Literal["pending", "validated", "invalid"]
ItemKind = Literal["invoice", "credit_note", "payment"]
LOCALE_PATTERN = r"^[a-z]{2}(-[A-Z]{2})?$"  # F-39: fr, fr-BE


class ApiInput(BaseModel):
    """Base of request bodies: text PostgreSQL cannot store is refused field by field."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_character(cls, value):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value


class ChannelIn(ApiInput):
    type: ChannelType
    value: str = Field(min_length=1, max_length=500)
    state: ChannelState = "pending"
    is_default: bool = False


class ContactIn(ApiInput):
    name: str = Field(min_length=1, max_length=200)
    observation: str | None = Field(default=None, max_length=2000)
    # F-39: the language the contact reads (its messages use that locale's template);
    # None: the client's locale.
    language: str | None = Field(default=None, pattern=LOCALE_PATTERN)
    channels: list[ChannelIn] = Field(default_factory=list)


class ItemIn(ApiInput):
    kind: ItemKind = "invoice"
    number: str = Field(min_length=1, max_length=100)
    issue_date: date | None = None
    due_date: date
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
    open_amount: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=2)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")

    @field_validator("open_amount")
    @classmethod
    def _open_amount_within_amount(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        amount = info.data.get("amount")
        if value is not None and amount is not None and value > amount:
            raise ValueError("must not exceed the amount")
        return value


class ClientIn(ApiInput):
    code: str = Field(min_length=1, max_length=CODE_MAX_LENGTH, pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=300)
    country: str | None = Field(default=None, max_length=2)
    # Issue 10: bounded like the import's columns, refused when given (422 naming the field).
    segment: str | None = Field(default=None, max_length=100)
    category: str | None = Field(default=None, max_length=100)
    tags: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=100)
    risk: str | None = Field(default=None, max_length=100)
    scenario_code: str | None = Field(default=None, max_length=100)
    locale: str = Field(default="fr", pattern=LOCALE_PATTERN)
    contacts: list[ContactIn] = Field(default_factory=list)
    items: list[ItemIn] = Field(default_factory=list)


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: UUID
    type: str
    value: str
    state: str
    is_default: bool


class ContactOut(BaseModel):
    id: UUID
    name: str
    observation: str | None
    language: str | None = None
    channels: list[ChannelOut]


class ItemOut(BaseModel):
    id: UUID
    dossier_id: UUID
    kind: str
    number: str
    issue_date: date | None
    due_date: date
    amount: Decimal
    open_amount: Decimal
    currency: str
    status: str | None
    status_comment: str | None


class DossierOut(BaseModel):
    id: UUID
    kind: str
    state: str
    agency_code: str | None
    opened_at: datetime
    closed_at: datetime | None


class InterventionOut(BaseModel):
    id: UUID
    dossier_id: UUID
    origin: str
    step_index: int | None
    action_type: str
    mode: str
    priority: int
    template_code: str | None
    due_at: datetime
    status: str
    comment: str | None
    created_at: datetime
    completed_at: datetime | None


class CommunicationOut(BaseModel):
    id: UUID
    channel: str
    template_code: str | None
    recipient: str | None
    subject: str | None
    body: str | None
    status: str
    error: str | None
    intervention_id: UUID | None
    created_at: datetime
    sent_at: datetime | None
    attempts: int = 0
    delivery_status: str | None = None  # what the SMS provider reported, when it did
    provider_ref: str | None = None
    attachment_id: UUID | None = None  # a letter's PDF among the client's attachments
    body_truncated: bool = False  # the rendered body was cut to the event size cap


class CurrencyBalance(BaseModel):
    """F-43: what the client's open items owe in one currency."""

    currency: str
    balance: Decimal


class ClientOut(BaseModel):
    id: UUID
    code: str
    name: str
    country: str | None
    segment: str | None
    category: str | None
    tags: list[str]
    risk: str | None
    scenario_code: str | None
    locale: str
    version: int
    balance: Decimal = Field(description="Every open amount added, whatever its currency: use "
                             "`balances` when the client has several (F-43)")
    balances: list[CurrencyBalance] = Field(default_factory=list,
                                            description="The open balance per currency (F-43)")
    collector_code: str | None = None
    collector_name: str | None = None
    # F-37: the client's dunning is on hold until this date (the day it resumes).
    hold_until: date | None = None
    hold_reason: str | None = None
    hold_set_by: str | None = None

    @model_validator(mode="after")
    def _hold_over(self) -> "ClientOut":
        """F-37: a hold whose day has come is over: the card shows no hold."""
        if self.hold_until is not None and self.hold_until <= date.today():
            self.hold_until = self.hold_reason = self.hold_set_by = None
        return self


class ClientPatch(ApiInput):
    """F-1: the fields sent are changed, the others kept; `comment` goes to the audit trail.
    Other fields (code, collector, version) are refused rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    country: str | None = Field(default=None, max_length=2)
    segment: str | None = Field(default=None, max_length=100)
    category: str | None = Field(default=None, max_length=100)
    tags: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=100)
    risk: str | None = Field(default=None, max_length=100)
    scenario_code: str | None = Field(default=None, max_length=100)
    locale: str | None = Field(default=None, pattern=LOCALE_PATTERN)
    comment: str | None = Field(default=None, max_length=2000)


class NoteOut(BaseModel):
    """F-25: one note of the client's note pad."""

    id: UUID
    text: str
    author: str
    created_at: datetime


class AttachmentOut(BaseModel):
    """F-26: a file attached to the client (uploaded, or a letter the notifier generated)."""

    id: UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    description: str | None
    source: str = Field(description="upload, letter (generated by the notifier) or agency (sent "
                                    "back by an agency on a placement, F-41)")
    item_number: str | None = Field(default=None, description="F-41: the item the file concerns")
    created_by: str
    created_at: datetime


class PendingActionOut(BaseModel):
    """A specific action still to come, as the card shows it (F-19)."""

    id: UUID
    action_type: str
    mode: str
    priority: int
    label: str | None
    due_at: datetime
    status: str
    item_ids: list[UUID]


class Aging(BaseModel):
    """F-36: the open balance by days past due."""

    not_due: Decimal
    days_1_30: Decimal
    days_31_60: Decimal
    days_61_90: Decimal
    days_90_plus: Decimal


class ClientCard(BaseModel):
    """F-1, F-2: the client card in one read."""

    client: ClientOut
    active_dossier: DossierOut | None
    transfer_dossiers: list[DossierOut]
    open_items: list[ItemOut]  # every open item, or the page asked for with items_limit
    open_item_count: int = 0  # over all pages
    aging: Aging | None = None
    contacts: list[ContactOut]
    pending_interventions: list[InterventionOut]
    pending_specific_actions: list[PendingActionOut] = Field(default_factory=list)  # F-19
    notes: list[NoteOut] = Field(default_factory=list)  # F-25, newest first
    attachments: list[AttachmentOut] = Field(default_factory=list)  # F-26
