"""Idempotent consumption: the processed event id is stored in the same transaction as
the effect, so a redelivered event changes nothing the second time."""

from uuid import UUID

import asyncpg


async def claim_event(conn: asyncpg.Connection, consumer: str, event_id: UUID) -> bool:
    """Record that `consumer` processed `event_id`; False if it already had.

    Call inside the transaction that applies the event's effect."""
    inserted = await conn.fetchval(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        event_id,
    )
    return bool(inserted)
