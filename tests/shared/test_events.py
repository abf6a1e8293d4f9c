"""The event envelope: type, version and topic come from the payload model, and an
envelope survives the JSON it travels as (outbox row, Kafka message)."""

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from relance import topics
from relance.events import (
    EVENT_TYPES,
    ClientCreated,
    CommunicationItem,
    CommunicationRequested,
    DossierOpened,
    EventEnvelope,
    EventPayload,
    ItemCreated,
)

CLIENT_ID = UUID("7d0f3a3c-3e7e-4a55-9c53-0f2f6f1d2a10")
DOSSIER_ID = UUID("0b8a9d0e-55c5-4f09-8f0e-4d8d2b7f6a11")
ITEM_ID = UUID("c2b1e0a4-9c7e-47f4-bd28-3f9b0a6e1c12")


def item_created() -> ItemCreated:
    return ItemCreated(
        item_id=ITEM_ID,
        client_id=CLIENT_ID,
        dossier_id=DOSSIER_ID,
        number="F-1001",
        kind="invoice",
        due_date=date(2025, 1, 20),
        amount=Decimal("1200.00"),
        open_amount=Decimal("845.50"),
        currency="EUR",
    )


def test_f1_client_created_envelope_names_its_type_version_and_topic() -> None:
    payload = ClientCreated(client_id=CLIENT_ID, code="C-001", name="ACME SA")

    envelope = payload.envelope(aggregate_id=CLIENT_ID, client_id=CLIENT_ID, actor="erp-import")

    assert envelope.event_type == "client.created"
    assert envelope.schema_version == 1
    assert envelope.topic == topics.CLIENT_EVENTS
    assert envelope.aggregate_id == str(CLIENT_ID)
    assert envelope.client_id == str(CLIENT_ID)
    assert envelope.actor == "erp-import"
    assert envelope.payload["code"] == "C-001"
    assert envelope.payload["client_id"] == str(CLIENT_ID)


def test_f2_item_created_envelope_goes_to_the_item_topic_keyed_by_client() -> None:
    envelope = item_created().envelope(aggregate_id=ITEM_ID, client_id=CLIENT_ID)

    assert envelope.event_type == "item.created"
    assert envelope.topic == topics.ITEM_EVENTS
    # The partition key is the client, not the item: one client's events stay in order.
    assert envelope.client_id == str(CLIENT_ID)
    assert envelope.aggregate_id == str(ITEM_ID)


def test_dossier_opened_envelope_goes_to_the_dossier_topic() -> None:
    payload = DossierOpened(dossier_id=DOSSIER_ID, client_id=CLIENT_ID, client_code="C-001")
    envelope = payload.envelope(aggregate_id=DOSSIER_ID, client_id=CLIENT_ID)

    assert (envelope.event_type, envelope.topic) == ("dossier.opened", topics.DOSSIER_EVENTS)
    assert envelope.payload["kind"] == "active"


def test_payload_is_stored_as_plain_json_values() -> None:
    envelope = item_created().envelope(aggregate_id=ITEM_ID, client_id=CLIENT_ID)

    # Amounts travel as exact decimal strings, dates as ISO dates, ids as strings.
    assert Decimal(envelope.payload["open_amount"]) == Decimal("845.50")
    assert envelope.payload["due_date"] == "2025-01-20"
    assert envelope.payload["item_id"] == str(ITEM_ID)


def test_envelope_survives_a_json_round_trip() -> None:
    original = item_created().envelope(
        aggregate_id=ITEM_ID,
        client_id=CLIENT_ID,
        actor="collector:jdupont",
        occurred_at=datetime(2025, 3, 30, 6, 15, 42, 123456, tzinfo=UTC),
    )

    restored = EventEnvelope.model_validate_json(original.model_dump_json())

    assert restored == original
    assert restored.topic == topics.ITEM_EVENTS
    assert restored.occurred_at == datetime(2025, 3, 30, 6, 15, 42, 123456, tzinfo=UTC)


def test_payload_as_gives_back_the_typed_payload_after_a_round_trip() -> None:
    original = item_created()
    envelope = EventEnvelope.model_validate_json(
        original.envelope(aggregate_id=ITEM_ID, client_id=CLIENT_ID).model_dump_json()
    )

    restored = envelope.payload_as(ItemCreated)

    assert restored == original
    assert restored.open_amount == Decimal("845.50")
    assert restored.due_date == date(2025, 1, 20)


def test_payload_as_restores_nested_items_of_a_communication_command() -> None:
    command = CommunicationRequested(
        communication_id=uuid4(),
        client_id=CLIENT_ID,
        client_code="C-001",
        client_name="ACME SA",
        channel="email",
        template_code="relance-email-1",
        items=[
            CommunicationItem(
                number="F-1001", kind="invoice", due_date=date(2025, 1, 20),
                amount=Decimal("1200.00"), open_amount=Decimal("1200.00"), currency="EUR",
            )
        ],
    )
    envelope = EventEnvelope.model_validate_json(
        command.envelope(aggregate_id=command.communication_id, client_id=CLIENT_ID).model_dump_json()
    )

    assert envelope.topic == topics.COMMUNICATION_COMMANDS
    assert envelope.payload_as(CommunicationRequested) == command


def test_payload_as_rejects_a_payload_of_another_type() -> None:
    envelope = ClientCreated(client_id=CLIENT_ID, code="C-001", name="ACME SA").envelope(
        aggregate_id=CLIENT_ID, client_id=CLIENT_ID
    )
    with pytest.raises(ValidationError):
        envelope.payload_as(ItemCreated)


def test_each_envelope_gets_its_own_event_id_unless_one_is_given() -> None:
    payload = ClientCreated(client_id=CLIENT_ID, code="C-001", name="ACME SA")
    first = payload.envelope(aggregate_id=CLIENT_ID, client_id=CLIENT_ID)
    second = payload.envelope(aggregate_id=CLIENT_ID, client_id=CLIENT_ID)
    fixed_id = uuid4()
    fixed = payload.envelope(aggregate_id=CLIENT_ID, client_id=CLIENT_ID, event_id=fixed_id)

    assert first.event_id != second.event_id
    assert fixed.event_id == fixed_id


def test_occurred_at_defaults_to_an_aware_utc_time() -> None:
    before = datetime.now(UTC)
    envelope = ClientCreated(client_id=CLIENT_ID, code="C-001", name="ACME SA").envelope(
        aggregate_id=CLIENT_ID, client_id=CLIENT_ID
    )
    after = datetime.now(UTC)

    assert envelope.occurred_at.utcoffset() is not None
    assert before <= envelope.occurred_at <= after


def test_envelope_is_immutable() -> None:
    envelope = ClientCreated(client_id=CLIENT_ID, code="C-001", name="ACME SA").envelope(
        aggregate_id=CLIENT_ID, client_id=CLIENT_ID
    )
    with pytest.raises(ValidationError):
        envelope.client_id = "someone-else"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("key", "model"), sorted(EVENT_TYPES.items()), ids=[f"{t}.v{v}" for t, v in sorted(EVENT_TYPES)]
)
def test_every_registered_event_type_is_published_on_a_created_topic(
    key: tuple[str, int], model: type[EventPayload]
) -> None:
    """Topics are created at start-up from ALL_TOPICS; the broker does not auto-create."""
    assert key == (model.event_type, model.schema_version)
    assert model.topic in topics.ALL_TOPICS


def test_the_events_the_dossier_service_writes_are_registered() -> None:
    for event_type in ("client.created", "item.created", "dossier.opened", "contact.created"):
        assert (event_type, 1) in EVENT_TYPES
