"""The dossier's side of `communication.events` (F-23, F-26, F-32): the client's trace is
the dossier's, fed by the notifier's outcome events.

communication.sent / communication.failed (needs_attention included) upsert the trace
row; a sent letter's PDF becomes one of the client's attachments (id = the
communication's, source 'letter'); communication.delivery_updated sets the final
delivery status. The effect and the processed event id commit in one transaction and
the Kafka offset is committed only afterwards: a redelivered event changes nothing."""

from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg
import structlog
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter

from relance.consumer import claim_event
from relance.dead_letters import DeadLetters
from relance.events import (
    CommunicationDeliveryUpdated,
    CommunicationFailed,
    CommunicationSent,
    EventEnvelope,
    EventPayload,
)
from relance.kafka import at_least_once, service_broker
from relance.topics import COMMUNICATION_EVENTS
from relance_dossier.messaging import erp_events
from relance_dossier.persistence import communications as store
from relance_dossier.settings import Settings

log = structlog.get_logger(__name__)

# processed_events.consumer, and the Kafka consumer group: its own, apart from the
# workflow bridge that reads the same topic.
CONSUMER = "dossier-communications"

COMMUNICATION_EVENTS_HANDLED = Counter(
    "relance_dossier_communication_events_total",
    "communication.events applied to the client's trace, by type and outcome",
    ["event_type", "outcome"],
)

Handler = Callable[[asyncpg.Connection, EventEnvelope], Awaitable[bool]]


async def _on_sent(conn: asyncpg.Connection, envelope: EventEnvelope) -> bool:
    return await store.record_sent(conn, envelope.payload_as(CommunicationSent), envelope.occurred_at)


async def _on_failed(conn: asyncpg.Connection, envelope: EventEnvelope) -> bool:
    return await store.record_failed(
        conn, envelope.payload_as(CommunicationFailed), envelope.occurred_at
    )


async def _on_delivery(conn: asyncpg.Connection, envelope: EventEnvelope) -> bool:
    return await store.record_delivery(
        conn, envelope.payload_as(CommunicationDeliveryUpdated), envelope.occurred_at
    )


def _key(model: type[EventPayload]) -> tuple[str, int]:
    return model.event_type, model.schema_version


HANDLERS: dict[tuple[str, int], Handler] = {
    _key(CommunicationSent): _on_sent,
    _key(CommunicationFailed): _on_failed,
    _key(CommunicationDeliveryUpdated): _on_delivery,
}


async def handle_communication_event(pool: asyncpg.Pool, envelope: EventEnvelope) -> str:
    """Apply one event to the trace; returns the outcome (for metrics and tests)."""
    handler = HANDLERS.get((envelope.event_type, envelope.schema_version))
    if handler is None:
        return "ignored"
    async with pool.acquire() as conn, conn.transaction():
        if not await claim_event(conn, CONSUMER, envelope.event_id):
            outcome = "duplicate"
        elif not await store.client_exists(conn, UUID(envelope.payload["client_id"])):
            # Never retried: no trace can name a client the dossier does not know.
            outcome = "unknown_client"
        else:
            outcome = "recorded" if await handler(conn, envelope) else "unchanged"
    COMMUNICATION_EVENTS_HANDLED.labels(envelope.event_type, outcome).inc()
    log.info("dossier.communication_event", event_id=str(envelope.event_id),
             event_type=envelope.event_type, outcome=outcome)
    return outcome


def build_broker(settings: Settings, pool: asyncpg.Pool, dead_letters: DeadLetters) -> KafkaBroker:
    """An event that keeps failing (or cannot be read) becomes one of the dossier's dead
    letters after its retries (`relance.dead_letters`); the partition moves on."""
    broker = service_broker(
        settings.kafka_bootstrap_servers, settings.service_name, settings.shutdown_grace_seconds
    )

    async def handle(envelope: EventEnvelope) -> None:
        await handle_communication_event(pool, envelope)

    @broker.subscriber(COMMUNICATION_EVENTS, **at_least_once(CONSUMER))
    async def on_communication_event(message: KafkaMessage) -> None:
        await dead_letters.handle(message, handle)

    erp_events.subscribe(broker, pool, dead_letters)  # F-42
    return broker
