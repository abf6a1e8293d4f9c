"""The KPI dashboard (F-36): the figures of `GET /kpis` for the filters chosen, with the
aging, the outstanding per currency and the per-collector figures drawn as inline SVG on
the server (no chart script). Every figure comes from the API; the page only scales the
bars."""

from dataclasses import dataclass
from decimal import Decimal

from fastapi import APIRouter, Depends, Query

from relance_console.api import ApiFailure
from relance_console.web import Ctx, render, signed_in

router = APIRouter()
BAR_WIDTH = 320  # pixels of the longest bar


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    amount: Decimal
    currency: str
    width: int
    negative: bool


def bars(rows: list[tuple[str, str, Decimal]], currency: str) -> list[Bar]:
    """Bars scaled to the largest absolute amount; a negative amount (credit notes above
    what is owed) is drawn in its own colour."""
    largest = max((abs(a) for _, _, a in rows), default=Decimal(0))
    return [Bar(key, label, amount, currency,
                int(abs(amount) / largest * BAR_WIDTH) if largest else 0, amount < 0)
            for key, label, amount in rows]


@dataclass(frozen=True)
class Split:
    currency: str
    outstanding: Decimal
    overdue: Decimal

    @property
    def overdue_width(self) -> int:
        if self.outstanding <= 0:
            return 0
        return int(max(Decimal(0), min(Decimal(1), self.overdue / self.outstanding)) * BAR_WIDTH)


@router.get("/kpis")
async def dashboard(ctx: Ctx = Depends(signed_in), collector: str | None = None,
                    segment: str | None = None, country: str | None = None,
                    currency: str | None = None,
                    period_from: str | None = Query(default=None, alias="from"),
                    to: str | None = None, as_of: str | None = None):
    values = {"collector": collector, "segment": segment, "country": country,
              "currency": currency, "from": period_from, "to": to, "as_of": as_of}
    params = {k: v for k, v in values.items() if v}
    errors: dict[str, str] = {}
    kpis = None
    try:
        kpis = await ctx.dossier.get("/kpis", params=params)
    except ApiFailure as failure:
        if failure.status not in (404, 422):
            raise
        errors = failure.by_field or {"_": failure.message}
    collectors = await ctx.dossier.get("/collectors") if ctx.session.is_manager else []
    aging, outstanding = {}, []
    if kpis:
        for figures in kpis["currencies"]:
            code = figures["currency"]
            aging[code] = bars([(b["bucket"], b["label"], Decimal(b["amount"]))
                                 for b in figures["aging"]], code)
        # Amounts in different currencies are not comparable: one bar per currency, the
        # whole width its outstanding, the overdue part drawn over it.
        outstanding = [Split(f["currency"], Decimal(f["outstanding"]), Decimal(f["overdue"]))
                       for f in kpis["currencies"]]
    return render(ctx, "kpis.html", kpis=kpis, values=params, errors=errors,
                  collectors=collectors, aging=aging, outstanding=outstanding, bar_width=BAR_WIDTH)
