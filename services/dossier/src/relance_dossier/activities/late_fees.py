"""The late-fee run's side effects (F-38), run by the dossier service's worker: when the
next run is, and the run itself, which charges the fees owed up to its day to every
client whose policy has `auto_charge`, one transaction per client (the client locked, as
a manager's charge), a batch of clients at a time. Charging is idempotent (one indemnity
per invoice ever, interest never twice for the same days), so a retried run charges
nothing twice; its heartbeat carries the last client done, so a retry goes on from there."""

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import asyncpg
import structlog
from temporalio import activity

from relance.contracts import late_fees as contract
from relance.contracts.late_fees import (
    CurrencyAmount,
    LateFeeRunMoment,
    LateFeeRunProgress,
    LateFeeRunRequest,
    LateFeeRunResult,
)
from relance_dossier.domain.late_fees import next_late_fee_run
from relance_dossier.persistence import late_fees as store
from relance_dossier.persistence.contacts import lock_client
from relance_dossier.settings import Settings

log = structlog.get_logger(__name__)

ACTOR = "late-fee-run"  # the author of the fee items and of their audit lines
BATCH = 200  # clients read at a time; a heartbeat after each batch


class LateFeeRunActivities:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings
        self._defaults = store.defaults_from(settings)

    @activity.defn(name=contract.NEXT_RUN.name)
    async def late_fee_next_run(self, after: datetime) -> LateFeeRunMoment:
        on, at = next_late_fee_run(after, self._settings.late_fee_run_day,
                                   self._settings.business_timezone, self._settings.business_hour)
        return LateFeeRunMoment(on=on, at=at)

    async def _charge_client(self, client_id: UUID, on: date, comment: str) -> list[asyncpg.Record]:
        async with self._pool.acquire() as conn, conn.transaction():
            await lock_client(conn, client_id)
            dossier_id = await conn.fetchval(
                "SELECT id FROM dossiers WHERE client_id = $1 AND kind = 'active'", client_id)
            if dossier_id is None:
                return []
            try:
                return await store.charge(conn, client_id=client_id, dossier_id=dossier_id, on=on,
                                          defaults=self._defaults, actor=ACTOR, comment=comment)
            except asyncpg.NumericValueOutOfRangeError:
                # A figure no item can hold: that client is left for a manager, said aloud.
                log.error("late_fee_run.client_refused", client_id=str(client_id), on=str(on),
                          reason="the fees are too large to be an item's amount")
                return []

    @activity.defn(name=contract.CHARGE.name)
    async def charge_late_fee_run(self, request: LateFeeRunRequest) -> LateFeeRunResult:
        details = activity.info().heartbeat_details
        progress = (LateFeeRunProgress.model_validate(details[0]) if details else
                    LateFeeRunProgress(after_client_id=UUID(int=0), clients_charged=0,
                                       fee_items=0, totals=[]))
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for total in progress.totals:
            totals[total.currency] += total.amount
        comment = f"late-fee run of {request.on.isoformat()}"
        while True:
            async with self._pool.acquire() as conn:
                batch = await store.auto_charged_clients(
                    conn, on=request.on, after=progress.after_client_id, defaults=self._defaults,
                    limit=BATCH)
            for row in batch:
                charged = await self._charge_client(row["client_id"], request.on, comment)
                if charged:
                    progress.clients_charged += 1
                    progress.fee_items += len(charged)
                    for fee in charged:
                        totals[fee["currency"]] += fee["amount"]
                progress.after_client_id = row["client_id"]
            progress.totals = [CurrencyAmount(currency=c, amount=a) for c, a in sorted(totals.items())]
            activity.heartbeat(progress)
            if len(batch) < BATCH:
                break
        log.info("late_fee_run.done", on=str(request.on), clients_charged=progress.clients_charged,
                 fee_items=progress.fee_items)
        return LateFeeRunResult(on=request.on, clients_charged=progress.clients_charged,
                                fee_items=progress.fee_items, totals=progress.totals)

    def all(self) -> list:
        return [self.late_fee_next_run, self.charge_late_fee_run]
