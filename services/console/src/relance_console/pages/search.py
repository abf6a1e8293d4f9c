"""Clients search and mass assignment (F-5, F-7): criteria or a list of codes pasted from
a spreadsheet, select all, assign a collector to the selection, save the search and run
it again from "my searches", and the alert of clients with a balance and no collector."""

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request

from relance_console.api import ApiFailure
from relance_console.web import Ctx, _, form_values, pages, redirect, render, signed_in

router = APIRouter()
CRITERIA = ("country", "segment", "category", "risk", "collector_code")


def _criteria(values) -> dict:
    criteria = {k: values.get(k) for k in CRITERIA if values.get(k)}
    if values.get("tag"):
        criteria["tags"] = [t.strip() for t in str(values.get("tag")).split(",") if t.strip()]
    for flag in ("has_collector", "balance_nonzero"):
        if values.get(flag) in ("true", "false"):
            criteria[flag] = values.get(flag) == "true"
    if str(values.get("balance_over") or "").strip():
        # F-43: the threshold is read in one currency, the client's balance in that currency.
        currency = str(values.get("balance_currency") or "").strip() or "EUR"
        criteria["balance_over"] = {currency: str(values.get("balance_over")).strip()}
    return criteria


async def _results(ctx: Ctx, values: dict, page: int):
    size = ctx.page_size
    if values.get("saved"):
        return await ctx.dossier.get(f"/searches/{values['saved']}/results",
                                     params={"limit": size, "offset": (page - 1) * size})
    body: dict = {"criteria": _criteria(values), "limit": size, "offset": (page - 1) * size}
    if str(values.get("codes") or "").strip():
        body["codes"] = values["codes"]
    return await ctx.dossier.post("/clients/search", json=body)


async def _page(ctx: Ctx, values: dict, page: int = 1, status_code: int = 200, **extra):
    errors = extra.pop("errors", {})
    result = {"total": 0, "clients": [], "unknown_codes": []}
    try:
        result = await _results(ctx, values, page)
    except ApiFailure as failure:
        if failure.status != 422:
            raise
        errors = {**failure.by_field, **errors}
        threshold = next((r for f, r in failure.by_field.items() if f.startswith("criteria.balance_over")), None)
        if threshold:
            errors.setdefault("balance_over", threshold)
        if "codes" not in errors and any(f.startswith("criteria") for f in failure.by_field):
            errors.setdefault("_", failure.message)
    collectors = await ctx.dossier.get("/collectors")
    searches = await ctx.dossier.get("/searches")
    try:  # F-7: the alert, for those who may see it
        alert = await ctx.dossier.get("/alerts/clients-without-collector", params={"limit": 1})
    except ApiFailure as failure:
        if failure.status != 403:
            raise
        alert = {"total": 0}
    query = {k: v for k, v in values.items() if v and k != "page"}
    return render(ctx, "search.html", status_code, values=values, errors=errors, result=result,
                  pager=pages(result["total"], page, ctx.page_size), base_url="/clients?" + urlencode(query) + "&",
                  collectors=collectors, searches=searches, alert_total=alert["total"], **extra)


@router.get("/clients")
async def search(request: Request, ctx: Ctx = Depends(signed_in), page: int = 1):
    return await _page(ctx, dict(request.query_params), max(1, page))


@router.post("/clients/assign")
async def mass_assign(request: Request, ctx: Ctx = Depends(signed_in)):
    """F-5: one collector for the ticked clients, or for the whole search."""
    form = await request.form()
    values = {k: form.get(k) for k in ("codes", "saved", "tag", "has_collector", "balance_nonzero", "balance_over",
                                         "balance_currency", *CRITERIA)
              if form.get(k)}
    body: dict = {"collector_code": form.get("assign_to") or None, "comment": form.get("comment") or None}
    if form.get("scope") == "all":
        if values.get("saved"):
            body["saved_search_id"] = values["saved"]
        else:
            body["criteria"] = _criteria(values)
            if values.get("codes"):
                body["codes"] = values["codes"]
    else:
        body["codes"] = form.getlist("client")
        if not body["codes"]:
            return await _page(ctx, values, errors={"client": _("Tick at least one client.")}, status_code=422)
    try:
        counts = await ctx.dossier.post("/assignment/mass", json=body)
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        errors = failure.by_field
        if "collector_code" in errors:
            errors["assign_to"] = errors["collector_code"]
        return await _page(ctx, values, errors=errors, status_code=422)
    return await _page(ctx, values, message=_("Collector assigned: {changed} changed, {unchanged} unchanged.").format(
        changed=counts["changed"], unchanged=counts["unchanged"]))


@router.post("/searches")
async def save_search(request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    values = {k: v for k, v in form_values(form).items() if k not in ("name",)}
    body: dict = {"name": form.get("name", ""), "criteria": _criteria(form)}
    if str(form.get("codes") or "").strip():
        body["codes"] = form.get("codes")
    try:
        await ctx.dossier.post("/searches", json=body)
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        return await _page(ctx, values, errors={"search_name": failure.by_field.get("name", failure.message)},
                           status_code=422, search_name=form.get("name", ""))
    return await _page(ctx, values, message=_("Search saved."))


@router.post("/searches/{search_id}/delete")
async def delete_search(search_id: str, request: Request, ctx: Ctx = Depends(signed_in)):
    await ctx.dossier.delete(f"/searches/{search_id}")
    return redirect(request, "/clients", flash=_("Search deleted."))


@router.get("/alerts")
async def alerts(ctx: Ctx = Depends(signed_in), page: int = 1):
    """F-7: clients with a non-zero balance and no collector."""
    page, size = max(1, page), ctx.page_size
    alert = await ctx.dossier.get("/alerts/clients-without-collector",
                                  params={"limit": size, "offset": (page - 1) * size})
    return render(ctx, "alerts.html", alert=alert, pager=pages(alert["total"], page, size))
