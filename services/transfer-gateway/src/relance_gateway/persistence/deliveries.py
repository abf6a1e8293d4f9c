"""Webhook deliveries: claimed with a lease, so a crash mid-send retries later."""

from uuid import UUID

import asyncpg

DELIVERY_COLUMNS = (
    "d.id, d.message_id, d.agency_code, d.url, d.status, d.attempts, d.next_attempt_at,"
    " d.last_status_code, d.last_error, d.created_at, d.delivered_at, d.dead_at,"
    " m.kind, m.transfer_id"
)


async def claim_due(
    conn: asyncpg.Connection, *, batch_size: int, lease_seconds: float
) -> list[asyncpg.Record]:
    """Take due deliveries and push their next attempt past the lease: another gateway
    instance skips them, and one interrupted mid-send is tried again after the lease."""
    return await conn.fetch(
        "WITH due AS ("
        "  SELECT id FROM gateway_deliveries WHERE status = 'pending' AND next_attempt_at <= now()"
        "  ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " UPDATE gateway_deliveries d SET attempts = d.attempts + 1,"
        "   next_attempt_at = now() + make_interval(secs => $2),"
        # The agency's URL as it is now: an agency that moved its endpoint gets its
        # retries and replays there.
        "   url = coalesce(a.webhook_url, d.url)"
        " FROM due, gateway_messages m, gateway_agencies a"
        " WHERE d.id = due.id AND m.id = d.message_id AND a.code = d.agency_code"
        " RETURNING d.id, d.message_id, d.agency_code, d.url, d.attempts, m.kind, m.body,"
        "   a.active AND a.webhook_url IS NOT NULL AS pushable",
        batch_size, lease_seconds,
    )


async def record_delivered(conn: asyncpg.Connection, delivery_id: UUID, message_id: UUID,
                           status_code: int) -> None:
    await conn.execute(
        "UPDATE gateway_deliveries SET status = 'delivered', delivered_at = now(),"
        " last_status_code = $2, last_error = NULL WHERE id = $1",
        delivery_id, status_code,
    )
    await conn.execute(
        "UPDATE gateway_messages SET acknowledged_at = coalesce(acknowledged_at, now()),"
        " acknowledged_by = coalesce(acknowledged_by, 'webhook') WHERE id = $1",
        message_id,
    )


async def record_failure(
    conn: asyncpg.Connection, delivery_id: UUID, *, status_code: int | None, error: str,
    retry_in_seconds: float | None,
) -> None:
    """A failed attempt: retry after `retry_in_seconds`, or dead letter when None."""
    if retry_in_seconds is None:
        await conn.execute(
            "UPDATE gateway_deliveries SET status = 'dead', dead_at = now(),"
            " last_status_code = $2, last_error = $3 WHERE id = $1",
            delivery_id, status_code, error[:1000],
        )
    else:
        await conn.execute(
            "UPDATE gateway_deliveries SET next_attempt_at = now() + make_interval(secs => $4),"
            " last_status_code = $2, last_error = $3 WHERE id = $1",
            delivery_id, status_code, error[:1000], retry_in_seconds,
        )


async def list_deliveries(
    conn: asyncpg.Connection, *, status: str | None, agency_code: str | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {DELIVERY_COLUMNS} FROM gateway_deliveries d"
        " JOIN gateway_messages m ON m.id = d.message_id"
        " WHERE ($1::text IS NULL OR d.status = $1) AND ($2::text IS NULL OR d.agency_code = $2)"
        " ORDER BY d.created_at DESC LIMIT $3",
        status, agency_code, limit,
    )


async def replay_dead(conn: asyncpg.Connection, delivery_id: UUID) -> asyncpg.Record | None:
    """A dead letter back to pending with a fresh attempt budget; None if not dead."""
    updated = await conn.fetchval(
        "UPDATE gateway_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),"
        " dead_at = NULL WHERE id = $1 AND status = 'dead' RETURNING id",
        delivery_id,
    )
    if updated is None:
        return None
    return await get_delivery(conn, delivery_id)


async def get_delivery(conn: asyncpg.Connection, delivery_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {DELIVERY_COLUMNS} FROM gateway_deliveries d"
        " JOIN gateway_messages m ON m.id = d.message_id WHERE d.id = $1",
        delivery_id,
    )


async def counts_by_status(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM gateway_deliveries GROUP BY status")
    return {r["status"]: r["n"] for r in rows}
