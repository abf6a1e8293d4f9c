"""Collection KPIs (F-36): balances, aging, DSO, CEI, promises, disputes, transfers and
per-collector figures, every money figure per currency, over the clients the caller may
see (F-4: a collector gets figures on their own clients and those their visibility
scope adds, never on others). The formulas are in docs/kpis.md."""

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from relance.api.auth import Principal
from relance.api.errors import ApiError
from relance_dossier.api.agenda import NOBODY
from relance_dossier.api.auth import can_read, db_pool, sees_collector
from relance_dossier.api.search import visibility_of
from relance_dossier.domain import kpis as formulas
from relance_dossier.domain.aging import AGING_BUCKETS
from relance_dossier.persistence import kpi_snapshots as snapshots
from relance_dossier.persistence import kpis as store
from relance_dossier.persistence.collectors import collector_by_code

router = APIRouter(tags=["kpis"])

CURRENCY = r"^[A-Z]{3}$"


class BucketAmount(BaseModel):
    bucket: str
    label: str
    amount: Decimal


class CurrencyFigures(BaseModel):
    currency: str
    outstanding: Decimal = Field(description="sum of the signed open amounts")
    overdue: Decimal = Field(description="the part of `outstanding` past its due date")
    aging: list[BucketAmount]
    opening_receivables: Decimal
    closing_receivables: Decimal
    closing_current_receivables: Decimal
    credit_sales: Decimal = Field(description="invoices issued in the period")
    dso_simple: Decimal | None = Field(description="days; none without sales in the period")
    dso_countback: Decimal | None = Field(description="days")
    cei: Decimal | None = Field(description="percent")


class PromiseFigures(BaseModel):
    currency: str
    made: int
    kept: int
    broken: int
    pending: int
    kept_rate: Decimal | None = Field(description="percent of the judged promises kept")
    promised_amount: Decimal
    kept_amount: Decimal


class DisputeFigures(BaseModel):
    currency: str
    items: int
    clients: int
    amount: Decimal
    average_age_days: Decimal
    oldest_age_days: int


class TransferFigures(BaseModel):
    currency: str
    transfers: int = Field(description="transfers made in the period")
    transferred: Decimal = Field(description="what the transfers of the period handed over")
    recovered: Decimal = Field(description="what agencies collected in the period")


class Amount(BaseModel):
    currency: str
    amount: Decimal


class CollectorFigures(BaseModel):
    collector_code: str
    collector_name: str
    clients: int
    outstanding: list[Amount]
    actions_due: int = Field(description="actions due in the period")
    actions_done: int = Field(description="of those, the ones done")
    collected: list[Amount] = Field(description="payments dated in the period")


class Kpis(BaseModel):
    computed_at: datetime = Field(description="when these figures were computed (they are kept "
                                              "until a change makes them stale)")
    fresh: bool = Field(description="false: a change came since `computed_at` and the figures "
                                    "are being recomputed (at most KPI_MAX_STALE_SECONDS old)")
    as_of: date
    period_from: date = Field(alias="from")
    period_to: date = Field(alias="to")
    period_days: int
    currencies: list[CurrencyFigures]
    promises: list[PromiseFigures]
    disputes: list[DisputeFigures]
    transfers: list[TransferFigures]
    collectors: list[CollectorFigures]

    model_config = {"populate_by_name": True}


def _amounts(rows, code: str) -> list[Amount]:
    return [Amount(currency=r["currency"], amount=r["amount"]) for r in rows
            if r["collector_code"] == code]


@router.get("/kpis", response_model=Kpis, response_model_by_alias=True,
            summary="F-36: collection KPIs per currency over the clients the caller may see")
async def kpis(
    request: Request,
    collector: str | None = Query(default=None, description="a collector's code"),
    segment: str | None = None,
    country: str | None = None,
    currency: Annotated[str | None, Query(pattern=CURRENCY,
                                          description="ISO 4217 code, e.g. EUR")] = None,
    period_from: date | None = Query(default=None, alias="from",
                                     description="first day; default: 89 days before `to`"),
    period_to: date | None = Query(default=None, alias="to",
                                   description="last day; default: the as-of date"),
    as_of: date | None = Query(default=None, description="the day balances are aged on; "
                                                         "default: today"),
    principal: Principal = Depends(can_read),
) -> dict:
    """Served from the figures kept for the same filters while no change came since they
    were computed; after a change, the kept figures (flagged `fresh: false`) while the
    refresher recomputes them, up to KPI_MAX_STALE_SECONDS; else computed now."""
    on = as_of or date.today()
    end = period_to or on
    start = period_from or end - timedelta(days=formulas.DEFAULT_PERIOD_DAYS - 1)
    period = formulas.check_period(start, end, on)
    visibility = visibility_of(principal, mine=False)
    visible = None
    if visibility.restricted:
        visible = visibility.only_collector_ids or [NOBODY]
    async with db_pool(request).acquire() as conn:
        collector_id = None
        if collector is not None:
            row = await collector_by_code(conn, collector)
            if row is None:
                raise ApiError(422, "collector", f"no collector with code {collector!r}")
            if not sees_collector(principal, row["id"]):
                raise ApiError(404, "collector", f"no collector with code {collector!r}")
            collector_id = row["id"]
        params = KpiParams(
            visible=sorted(str(v) for v in visible) if visible is not None else None,
            collector_id=str(collector_id) if collector_id else None, segment=segment,
            country=country, currency=currency, as_of=on, period_from=period.start,
            period_to=period.end,
        )
        key = snapshots.snapshot_key(params.model_dump(mode="json"))
        kept = await snapshots.snapshot_of(conn, key)
        # Stale figures are served while the refresher may not have come back to them yet.
        max_stale = max(request.app.state.settings.kpi_max_stale_seconds,
                        2 * snapshots.REFRESH_COST_FACTOR * kept["compute_seconds"] if kept else 0)
        if kept is not None and (not kept["stale"] or (
                datetime.now(UTC) - kept["computed_at"]).total_seconds() <= max_stale):
            await snapshots.mark_read(conn, key)
            return {**kept["result"], "fresh": not kept["stale"]}
        return (await compute_and_keep(conn, params)).model_dump(mode="json", by_alias=True)


class KpiParams(BaseModel):
    """One filter set of the dashboard, as kept with its figures (the refresher recomputes
    from it)."""

    visible: list[str] | None
    collector_id: str | None
    segment: str | None
    country: str | None
    currency: str | None
    as_of: date
    period_from: date
    period_to: date


async def compute_and_keep(conn, params: KpiParams) -> Kpis:
    """The figures in one repeatable-read snapshot, kept with it (F-36)."""
    began = time.perf_counter()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        snapshot, computed_at = await snapshots.begin_snapshot(conn)
        figures = await compute(conn, params, computed_at)
    kept_params = params.model_dump(mode="json")
    await snapshots.store(conn, snapshots.snapshot_key(kept_params), kept_params, snapshot,
                          computed_at, time.perf_counter() - began,
                          figures.model_dump(mode="json", by_alias=True))
    return figures


async def compute(conn, params: KpiParams, computed_at: datetime) -> Kpis:
    scope = store.Scope([UUID(v) for v in params.visible] if params.visible is not None else None,
                        UUID(params.collector_id) if params.collector_id else None,
                        params.segment, params.country, params.currency)
    on = params.as_of
    period = formulas.check_period(params.period_from, params.period_to, on)
    months = formulas.countback_months(period.end)
    aging = await store.aging(conn, scope, on)
    receivables = await store.receivables(conn, scope, period.start, period.end)
    sales = await store.countback_sales(conn, scope, months)
    promises = await store.in_period(conn, store.PROMISES, scope, period.start, period.end)
    disputes = await store.disputes(conn, scope, on)
    transfers = await store.in_period(conn, store.TRANSFERS, scope, period.start, period.end)
    portfolios = await store.of_scope(conn, store.COLLECTOR_PORTFOLIOS, scope)
    outstanding = await store.of_scope(conn, store.COLLECTOR_OUTSTANDING, scope)
    actions = {r["collector_code"]: r for r in await store.in_period(
        conn, store.COLLECTOR_ACTIONS, scope, period.start, period.end)}
    collected = await store.in_period(conn, store.COLLECTOR_COLLECTED, scope,
                                      period.start, period.end)

    by_bucket = {(r["currency"], r["bucket"]): r["amount"] for r in aging}
    by_currency = {r["currency"]: r for r in receivables}
    currencies = []
    for code in sorted({r["currency"] for r in aging} | set(by_currency)):
        buckets = [BucketAmount(bucket=b.key, label=b.label,
                                amount=by_bucket.get((code, b.key), Decimal("0.00")))
                   for b in AGING_BUCKETS]
        total = sum((b.amount for b in buckets), Decimal("0.00"))
        r = by_currency.get(code)
        zero = Decimal("0.00")
        opening, closing, current, credit_sales = (
            (r["opening"], r["closing"], r["closing_current"], r["credit_sales"]) if r
            else (zero, zero, zero, zero))
        month_sales = {s["k"]: s["sales"] for s in sales if s["currency"] == code}
        walk = [formulas.MonthSales(month_sales.get(k, zero), (last - first).days + 1)
                for k, (first, last) in enumerate(months, start=1)]
        currencies.append(CurrencyFigures(
            currency=code, outstanding=total,
            overdue=total - by_bucket.get((code, AGING_BUCKETS[0].key), zero), aging=buckets,
            opening_receivables=opening, closing_receivables=closing,
            closing_current_receivables=current, credit_sales=credit_sales,
            dso_simple=formulas.dso_simple(closing, credit_sales, period.days),
            dso_countback=formulas.dso_countback(closing, walk),
            cei=formulas.cei(opening, credit_sales, closing, current),
        ))
    return Kpis(
        computed_at=computed_at, fresh=True, as_of=on, period_from=period.start,
        period_to=period.end, period_days=period.days,
        currencies=currencies,
        promises=[PromiseFigures(**dict(r), kept_rate=formulas.rate(r["kept"], r["kept"] + r["broken"]))
                  for r in promises],
        disputes=[DisputeFigures(**dict(r)) for r in disputes],
        transfers=[TransferFigures(**dict(r)) for r in transfers],
        collectors=[CollectorFigures(
            collector_code=p["collector_code"], collector_name=p["collector_name"],
            clients=p["clients"], outstanding=_amounts(outstanding, p["collector_code"]),
            actions_due=actions[p["collector_code"]]["due"] if p["collector_code"] in actions else 0,
            actions_done=actions[p["collector_code"]]["done"] if p["collector_code"] in actions else 0,
            collected=_amounts(collected, p["collector_code"]),
        ) for p in portfolios],
    )
