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
