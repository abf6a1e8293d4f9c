"""Idempotent consumption: the processed event id is stored in the same transaction as
the effect, so a redelivered event changes nothing the second time."""

from collections.abc import Iterable
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


async def claim_events(conn: asyncpg.Connection, consumer: str, event_ids: Iterable[UUID]) -> set[UUID]:
    """Record that `consumer` processed each of `event_ids` in one statement; returns the
    ids it had not processed before (apply only those). A repeated id counts once.

    Call inside the transaction that applies the batch's effects: a batch consumer makes
    one round trip for the whole poll instead of one per message."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return set()
    rows = await conn.fetch(
        "INSERT INTO processed_events (consumer, event_id)"
        " SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        ids,
    )
    return {row["event_id"] for row in rows}
