"""Stored Idempotency-Key answers, per agency (F-31)."""

import asyncpg

from relance_gateway.domain.idempotency import StoredAnswer


async def lock_key(conn: asyncpg.Connection, agency_code: str, key: str) -> None:
    """Serialise concurrent requests with the same key until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{agency_code}\n{key}")


async def find_answer(conn: asyncpg.Connection, agency_code: str, key: str) -> StoredAnswer | None:
    row = await conn.fetchrow(
        "SELECT request_hash, status_code, response FROM gateway_idempotency_keys"
        " WHERE agency_code = $1 AND key = $2",
        agency_code, key,
    )
    if row is None:
        return None
    return StoredAnswer(row["request_hash"], row["status_code"], row["response"])


async def store_answer(
    conn: asyncpg.Connection, *, agency_code: str, key: str, request_hash: str, method: str,
    path: str, status_code: int, response: str,
) -> None:
    await conn.execute(
        "INSERT INTO gateway_idempotency_keys"
        " (agency_code, key, request_hash, method, path, status_code, response)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        agency_code, key, request_hash, method, path, status_code, response,
    )
