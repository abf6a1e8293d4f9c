"""The ERP's events (F-42, F-3: payments and item updates arrive "in bulk and as events"):
`erp.events` feeds the same checks and upserts as the file import, one event at a time.

Each event is a one-row import (`persistence.imports.run_import`) in the transaction that
also records its event id (a redelivered event changes nothing) and, for clients and items,
the ERP moment it carries (`erp_versions`: an event older than the one applied for the same
client or item changes nothing). A payment is keyed by its ERP reference, as in a file: the
same payment sent again changes nothing. An event the import refuses (an item of an unknown
client, a bad amount…) is parked at once as a dead letter with the import's reason; the
consumer goes on with the next one."""

from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter

from relance.consumer import claim_event
from relance.dead_letters import DeadLetters, Unprocessable
from relance.events import (
    ErpClientUpserted,
    ErpItemUpserted,
    ErpPaymentRecorded,
    EventEnvelope,
    EventPayload,
)
from relance.kafka import at_least_once
from relance.topics import ERP_EVENTS
from relance_dossier.domain.imports import ImportKind
from relance_dossier.persistence.imports import run_import

log = structlog.get_logger(__name__)

CONSUMER = "dossier-erp"
ACTOR = "erp"

ERP_EVENTS_HANDLED = Counter(
    "relance_dossier_erp_events_total",
    "erp.events applied through the import path, by type and outcome",
    ["event_type", "outcome"],
)

MODELS: dict[tuple[str, int], type[EventPayload]] = {
    (m.event_type, m.schema_version): m for m in (ErpClientUpserted, ErpItemUpserted, ErpPaymentRecorded)
}


def import_row(payload: EventPayload) -> tuple[ImportKind, dict[str, Any], tuple[str, str] | None]:
    """The import kind, the row (the file import's columns) and the ERP key whose moment
    orders the events (none for a payment: its reference is its key)."""
    data = {k: v for k, v in payload.model_dump(mode="json").items() if v is not None}
    if isinstance(payload, ErpClientUpserted):
        return "clients", data, ("client", payload.code)
    if isinstance(payload, ErpItemUpserted):
        return "items", data, ("item", f"{payload.client_code}\x1f{payload.kind}\x1f{payload.number}")
    assert isinstance(payload, ErpPaymentRecorded)
    data["date"] = data.pop("paid_on")
    return "payments", data, None


async def _newer(conn: asyncpg.Connection, key: tuple[str, str], envelope: EventEnvelope) -> bool:
    """Record the event's moment for its key unless a later one was applied already."""
    return await conn.fetchval(
        "INSERT INTO erp_versions (entity, erp_key, occurred_at, event_id) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (entity, erp_key) DO UPDATE SET occurred_at = EXCLUDED.occurred_at,"
        " event_id = EXCLUDED.event_id WHERE erp_versions.occurred_at <= EXCLUDED.occurred_at"
        " RETURNING true",
        *key, envelope.occurred_at, envelope.event_id,
    ) is not None


async def handle_erp_event(pool: asyncpg.Pool, envelope: EventEnvelope) -> str:
    """Apply one ERP event; returns the outcome (for metrics and tests). Raises
    `Unprocessable` with the import's reasons when the import refuses it."""
    model = MODELS.get((envelope.event_type, envelope.schema_version))
    if model is None:
        raise Unprocessable(f"unknown event type {envelope.event_type!r} version {envelope.schema_version}")
    payload = envelope.payload_as(model)  # a ValidationError is parked at once
    kind, row, key = import_row(payload)
    async with pool.acquire() as conn, conn.transaction():
        if not await claim_event(conn, CONSUMER, envelope.event_id):
            outcome = "duplicate"
        elif key is not None and not await _newer(conn, key, envelope):
            outcome = "stale"
        else:
            _, report = await run_import(conn, kind, "json", [(1, row)], actor=ACTOR,
                                         source=f"{ERP_EVENTS} {envelope.event_id}")
            if report.errors:
                # The transaction rolls back: neither the event id nor a half-applied row stays.
                raise Unprocessable("; ".join(f"{e.field}: {e.reason}" for e in report.errors))
            outcome = "inserted" if report.inserted else "updated" if report.updated else "unchanged"
    ERP_EVENTS_HANDLED.labels(envelope.event_type, outcome).inc()
    log.info("dossier.erp_event", event_id=str(envelope.event_id), event_type=envelope.event_type,
             outcome=outcome)
    return outcome


def subscribe(broker: KafkaBroker, pool: asyncpg.Pool, dead_letters: DeadLetters) -> None:
    async def handle(envelope: EventEnvelope) -> None:
        try:
            await handle_erp_event(pool, envelope)
        except Unprocessable:
            ERP_EVENTS_HANDLED.labels(envelope.event_type, "refused").inc()
            raise

    @broker.subscriber(ERP_EVENTS, **at_least_once(CONSUMER))
    async def on_erp_event(message: KafkaMessage) -> None:
        await dead_letters.handle(message, handle)
