"""KPI snapshots (F-36 at scale, migration 0025): the figures of one filter set with the
database snapshot they were computed in. A snapshot is fresh while no transaction that
wrote what the KPIs read (`kpi_changes`) committed outside its database snapshot; only
changes at or past the snapshot's xmin can be outside it, so the check reads a few index
entries whatever the table holds."""

import hashlib
import json
from datetime import datetime
from typing import Any

import asyncpg

# A dashboard is recomputed at most once per this many times its computing time: at
# scale, under a stream of changes, the refresher then takes a tenth of one connection.
REFRESH_COST_FACTOR = 10

# The changes that may be invisible in the snapshot `s`.
_CHANGED_SINCE = (
    "EXISTS (SELECT 1 FROM kpi_changes c WHERE c.txid >= pg_snapshot_xmin(s.snapshot)"
    " AND NOT pg_visible_in_snapshot(c.txid, s.snapshot))"
)


def snapshot_key(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


async def snapshot_of(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    """The stored figures, when they were computed, and whether a change came since."""
    return await conn.fetchrow(
        f"SELECT s.result, s.computed_at, s.compute_seconds, {_CHANGED_SINCE} AS stale"
        " FROM kpi_snapshots s"
        " WHERE s.key = $1", key,
    )


async def mark_read(conn: asyncpg.Connection, key: str) -> None:
    # At most once a minute: a dashboard's refreshes do not each write a row.
    await conn.execute(
        "UPDATE kpi_snapshots SET read_at = now() WHERE key = $1 AND read_at < now() - interval '1 minute'",
        key,
    )


async def begin_snapshot(conn: asyncpg.Connection) -> tuple[str, datetime]:
    """The database snapshot and time of the caller's (repeatable read) transaction: the
    first statement, so every query of the figures after it reads that same snapshot."""
    row = await conn.fetchrow("SELECT pg_current_snapshot()::text AS snapshot, now() AS at")
    return row["snapshot"], row["at"]


async def store(conn: asyncpg.Connection, key: str, params: dict[str, Any], snapshot: str,
                computed_at: datetime, compute_seconds: float, result: dict[str, Any]) -> None:
    """Keep the newest computation when two race (a request and the refresher)."""
    await conn.execute(
        "INSERT INTO kpi_snapshots (key, params, snapshot, computed_at, compute_seconds, read_at,"
        " result) VALUES ($1, $2, $3::text::pg_snapshot, $4, $5, now(), $6)"
        " ON CONFLICT (key) DO UPDATE SET params = EXCLUDED.params, snapshot = EXCLUDED.snapshot,"
        " computed_at = EXCLUDED.computed_at, compute_seconds = EXCLUDED.compute_seconds,"
        " result = EXCLUDED.result WHERE kpi_snapshots.computed_at <= EXCLUDED.computed_at",
        key, params, snapshot, computed_at, compute_seconds, result,
    )


async def stale_and_read(conn: asyncpg.Connection, read_within_seconds: float,
                         limit: int) -> list[asyncpg.Record]:
    """The snapshots a change made stale that someone read lately, latest read first, each
    left alone for REFRESH_COST_FACTOR times its computing time after it was computed."""
    return await conn.fetch(
        f"SELECT s.key, s.params FROM kpi_snapshots s"
        f" WHERE s.read_at > now() - make_interval(secs => $1)"
        f" AND s.computed_at < now() - make_interval(secs => s.compute_seconds * {REFRESH_COST_FACTOR})"
        f" AND {_CHANGED_SINCE} ORDER BY s.read_at DESC LIMIT $2", read_within_seconds, limit,
    )


async def prune(conn: asyncpg.Connection, keep_days: int) -> None:
    """Snapshots nobody read for `keep_days`, and changes every snapshot has seen that are a
    day old (a computation running meanwhile started after them)."""
    await conn.execute(
        "DELETE FROM kpi_snapshots WHERE read_at < now() - make_interval(days => $1)", keep_days)
    # Below a snapshot's xmin every transaction is visible in it.
    await conn.execute(
        "DELETE FROM kpi_changes WHERE at < now() - interval '1 day' AND txid < COALESCE("
        " (SELECT min(pg_snapshot_xmin(snapshot)) FROM kpi_snapshots),"
        " pg_snapshot_xmin(pg_current_snapshot()))"
    )
