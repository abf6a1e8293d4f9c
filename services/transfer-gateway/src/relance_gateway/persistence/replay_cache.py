"""Signed agency requests already seen (F-31): a signature is accepted once. Each row is
kept until its timestamp leaves the tolerance window (after which the timestamp check
refuses the request anyway), then pruned in small batches."""

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

log = structlog.get_logger(__name__)

PRUNE_BATCH = 1000


async def remember(
    conn: asyncpg.Connection, agency_code: str, fingerprint: str, *, timestamp: int,
    tolerance_seconds: int,
) -> bool:
    """Record a verified request; False if the same signed request was seen already."""
    expires_at = datetime.fromtimestamp(timestamp, UTC) + timedelta(seconds=tolerance_seconds)
    inserted = await conn.fetchval(
        "INSERT INTO gateway_seen_signatures (agency_code, fingerprint, expires_at)"
        " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true",
        agency_code, fingerprint, expires_at,
    )
    return bool(inserted)


async def prune(conn: asyncpg.Connection, batch_size: int = PRUNE_BATCH) -> int:
    """Delete up to `batch_size` rows past their window; returns how many went."""
    deleted = await conn.fetch(
        "DELETE FROM gateway_seen_signatures WHERE ctid = ANY(ARRAY("
        "  SELECT ctid FROM gateway_seen_signatures WHERE expires_at < now() LIMIT $1))"
        " RETURNING 1",
        batch_size,
    )
    return len(deleted)


async def run_pruning(pool: asyncpg.Pool, every_seconds: float) -> None:
    """Forever: prune in batches (short transactions) until nothing is left, then wait."""
    while True:
        try:
            while True:
                async with pool.acquire() as conn:
                    if await prune(conn) < PRUNE_BATCH:
                        break
        except Exception as exc:  # noqa: BLE001 - the loop outlives a database hiccup
            log.warning("gateway.replay_cache_prune_failed", error=repr(exc)[:500])
        await asyncio.sleep(every_seconds)
