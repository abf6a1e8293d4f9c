"""Transfer metrics for SREs (F-34): open transfers by state and overdue agency answers
by agency, read from the transfers table when Prometheus scrapes `/metrics`, so they are
right whichever process changed the rows."""

from fastapi import FastAPI, Request
from prometheus_client import Counter, Gauge

from relance_dossier.persistence import transfers as store

TRANSFERS_OPEN = Gauge("relance_transfers_open", "Transfers not closed, by state", ["state"])
AGENCY_ANSWER_OVERDUE = Gauge(
    "relance_transfers_agency_answer_overdue",
    "Cancellation requests the agency has not answered within the set delay (F-30)",
    ["agency"],
)
# Counted by the worker's activities after their transaction commits, once per step (a
# retried activity whose earlier attempt committed counts nothing): scenario steps due
# against interventions closed, for the business dashboard.
SCENARIO_STEPS_DUE = Counter(
    "relance_scenario_steps_due_total",
    "Scenario steps that fell due and opened their intervention, by action type and mode",
    ["action_type", "mode"],
)
INTERVENTIONS_CLOSED = Counter(
    "relance_interventions_closed_total",
    "Interventions closed, by origin (scenario, manual, promise, ...) and status (done, skipped)",
    ["origin", "status"],
)
# F-36 at scale: dashboards recomputed by the refresher after a change made them stale.
KPI_REFRESHES = Counter(
    "relance_kpi_refreshes_total",
    "KPI dashboards recomputed by the refresher after a change made their kept figures stale",
)
_agencies_seen: set[str] = set()
OPEN_STATES = ("in_window", "placed", "placed_acknowledged", "cancellation_pending")


async def refresh_transfer_metrics(pool) -> None:
    async with pool.acquire() as conn:
        by_state = {r["state"]: r["n"] for r in await store.open_transfers_by_state(conn)}
        overdue = await store.overdue_answers_by_agency(conn)
    for state in {*OPEN_STATES, *by_state}:
        TRANSFERS_OPEN.labels(state).set(by_state.get(state, 0))
    counts = {r["agency_code"]: r["n"] for r in overdue}
    # An agency whose transfers all closed goes back to 0 rather than keeping its last value.
    for agency in {*_agencies_seen, *counts}:
        AGENCY_ANSWER_OVERDUE.labels(agency).set(counts.get(agency, 0))
    _agencies_seen.update(counts)


def install_transfer_metrics(app: FastAPI) -> None:
    """Refresh the gauges just before `/metrics` answers."""

    @app.middleware("http")
    async def _refresh_on_scrape(request: Request, call_next):
        if request.url.path == "/metrics":
            await refresh_transfer_metrics(request.app.state.pool)
        return await call_next(request)
