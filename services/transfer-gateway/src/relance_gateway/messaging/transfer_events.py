"""The gateway's side of `transfer.events` (F-29, F-31).

A placement or a cancellation request becomes a message for the agency (pulled through
the agency API, or pushed by webhook when the agency has a URL). The message, the
placement's state and the processed event id commit in one transaction, and the Kafka
offset is committed only afterwards: a redelivered event changes nothing. Events are
fetched in batches and applied in lanes (relance.lanes): a client's events in order, a
few clients at once, as a burst of placements otherwise waited behind each other."""

from collections.abc import Callable

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from relance.consumer import claim_event
from relance.dead_letters import DeadLetters
from relance.events import (
    EventEnvelope,
    TransferCancellationRequested,
    TransferCancelled,
    TransferPlaced,
)
from relance.kafka import service_broker, subscribe_in_lanes
from relance.topics import TRANSFER_EVENTS
from relance_gateway.metrics import TRANSFER_EVENTS_HANDLED
from relance_gateway.persistence import agencies, placements
from relance_gateway.settings import Settings

log = structlog.get_logger(__name__)

CONSUMER = "transfer-gateway"
PLACEMENT = "placement"
CANCELLATION_REQUEST = "cancellation_request"


def _message(envelope: EventEnvelope, kind: str, payload, internal: set[str]) -> dict:
    """What the agency receives (webhook body and pull API item): the payload without
    what is ours alone (`internal`)."""
    return {"id": str(envelope.event_id), "type": kind,
            "created_at": envelope.occurred_at.isoformat(), "agency_code": payload.agency_code,
            "data": payload.model_dump(mode="json", exclude={"agency_code", *internal})}


def placement_message(envelope: EventEnvelope, placed: TransferPlaced) -> dict:
    return _message(envelope, PLACEMENT, placed, {"client_id"})


def cancellation_message(envelope: EventEnvelope, request: TransferCancellationRequested) -> dict:
    return _message(envelope, CANCELLATION_REQUEST, request, {"client_id", "requested_by"})


async def _webhook_url(conn: asyncpg.Connection, agency_code: str) -> tuple[bool, str | None]:
    """Is the agency registered, and where to push to (None: inactive or pull-only)."""
    agency = await agencies.get_agency(conn, agency_code)
    return agency is not None, agency["webhook_url"] if agency is not None and agency["active"] else None


async def handle_transfer_event(pool: asyncpg.Pool, envelope: EventEnvelope) -> str:
    """Apply one transfer event; returns the outcome (for metrics and tests)."""
    handler = HANDLERS.get(envelope.event_type)
    if handler is None:
        return "ignored"
    async with pool.acquire() as conn, conn.transaction():
        if not await claim_event(conn, CONSUMER, envelope.event_id):
            outcome = "duplicate"
        else:
            outcome = await handler(conn, envelope)
    TRANSFER_EVENTS_HANDLED.labels(envelope.event_type, outcome).inc()
    log.info("gateway.transfer_event", event_id=str(envelope.event_id),
             event_type=envelope.event_type, outcome=outcome)
    return outcome


async def _on_placed(conn: asyncpg.Connection, envelope: EventEnvelope) -> str:
    placed = envelope.payload_as(TransferPlaced)
    inserted = await placements.insert_placement(
        conn, transfer_id=placed.transfer_id, agency_code=placed.agency_code,
        client_id=placed.client_id, client_code=placed.client_code,
        placement=placed.model_dump(mode="json"), placed_at=placed.placed_at,
    )
    if not inserted:
        return "duplicate"
    registered, webhook_url = await _webhook_url(conn, placed.agency_code)
    await placements.insert_message(
        conn, message_id=envelope.event_id, agency_code=placed.agency_code,
        transfer_id=placed.transfer_id, kind=PLACEMENT,
        body=placement_message(envelope, placed), webhook_url=webhook_url,
    )
    # An unregistered agency still finds the placement through the pull API once it is
    # registered; the metric tells operators that a transfer named an unknown agency.
    return "stored" if registered else "unknown_agency"


async def _on_cancellation_requested(conn: asyncpg.Connection, envelope: EventEnvelope) -> str:
    request = envelope.payload_as(TransferCancellationRequested)
    placement = await placements.get_any_placement(conn, request.transfer_id)
    if placement is None:
        return "unknown_transfer"
    await placements.set_placement(
        conn, request.transfer_id, status="cancellation_requested",
        cancellation_comment=request.comment, refusal_reason=None,
    )
    _, webhook_url = await _webhook_url(conn, placement["agency_code"])
    await placements.insert_message(
        conn, message_id=envelope.event_id, agency_code=placement["agency_code"],
        transfer_id=request.transfer_id, kind=CANCELLATION_REQUEST,
        body=cancellation_message(envelope, request), webhook_url=webhook_url,
    )
    return "stored"


async def _on_cancelled(conn: asyncpg.Connection, envelope: EventEnvelope) -> str:
    cancelled = envelope.payload_as(TransferCancelled)
    placement = await placements.get_any_placement(conn, cancelled.transfer_id)
    if placement is None:  # cancelled within the window: the agency never heard of it (F-28)
        return "ignored"
    if placement["status"] != "cancelled":
        await placements.set_placement(conn, cancelled.transfer_id, status="cancelled")
    return "stored"


HANDLERS = {
    TransferPlaced.event_type: _on_placed,
    TransferCancellationRequested.event_type: _on_cancellation_requested,
    TransferCancelled.event_type: _on_cancelled,
}


def build_broker(
    settings: Settings, pool: asyncpg.Pool, on_stored: Callable[[], None], dead_letters: DeadLetters,
    *, topic: str = TRANSFER_EVENTS, group_id: str = CONSUMER,
) -> KafkaBroker:
    """A transfer event that keeps failing (or cannot be read) becomes one of the gateway's
    dead letters after its retries (`relance.dead_letters`); the partition moves on."""
    broker = service_broker(
        settings.kafka_bootstrap_servers, settings.service_name, settings.shutdown_grace_seconds
    )

    async def handle(envelope: EventEnvelope) -> None:
        if await handle_transfer_event(pool, envelope) == "stored":
            on_stored()

    subscribe_in_lanes(broker, topic, group_id=group_id,
                       batch_size=settings.transfer_events_batch_size,
                       concurrency=settings.transfer_events_concurrency,
                       dead_letters=dead_letters, handle=handle)
    return broker
