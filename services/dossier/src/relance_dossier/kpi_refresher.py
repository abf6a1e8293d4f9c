"""The KPI refresher (F-36 at scale): recomputes the dashboards someone reads once a
change made their kept figures stale, so the next reader gets fresh figures without
waiting for them; it also drops what nobody reads any more."""

import asyncio

import asyncpg
import structlog

from relance_dossier.api.kpis import KpiParams, compute_and_keep
from relance_dossier.metrics import KPI_REFRESHES
from relance_dossier.persistence import kpi_snapshots
from relance_dossier.settings import Settings

log = structlog.get_logger(__name__)

# Per round, so a burst of stale dashboards does not hold a connection for long.
BATCH = 20


async def refresh_once(pool: asyncpg.Pool, settings: Settings) -> int:
    """Recompute the stale dashboards read lately; returns how many."""
    async with pool.acquire() as conn:
        stale = await kpi_snapshots.stale_and_read(conn, settings.kpi_refresh_read_within_seconds, BATCH)
        for row in stale:
            await compute_and_keep(conn, KpiParams.model_validate(row["params"]))
            KPI_REFRESHES.inc()
        await kpi_snapshots.prune(conn, settings.kpi_snapshot_keep_days)
    return len(stale)


async def run_kpi_refresher(pool: asyncpg.Pool, settings: Settings) -> None:
    while True:
        try:
            refreshed = await refresh_once(pool, settings)
            if refreshed:
                log.info("dossier.kpis_refreshed", dashboards=refreshed)
        except Exception:  # a failed round is logged and the next one tries again
            log.exception("dossier.kpi_refresh_failed")
        await asyncio.sleep(settings.kpi_refresh_seconds)
