"""Transfers to an agency (F-27 … F-29): create one from ticked items of the active
dossier; the transfer dossier with its action detail; the gear on its next action with
"end of transfer, back to active" inside the window and "request cancellation" after;
a pending request shown struck through in red; the agency's answer appears by polling."""

from datetime import date, timedelta

from fastapi import APIRouter, Depends, Request

from relance_console.api import ApiFailure
from relance_console.web import Ctx, _, form_values, redirect, render, signed_in

router = APIRouter()


async def _agencies(ctx: Ctx) -> list[dict]:
    """The active agencies, from the gateway (F-27, F-31); a free field if it cannot say."""
    try:
        return await ctx.gateway.get("/agencies")
    except ApiFailure:
        return []


async def _form(ctx: Ctx, code: str, item_ids: list[str], status_code: int = 200, **extra):
    card = await ctx.dossier.get(f"/clients/{code}")
    active = (card.get("active_dossier") or {}).get("id")
    wanted = set(item_ids)
    selected = [i for i in card["open_items"] if i["id"] in wanted]
    values = extra.pop("values", None) or {
        "next_follow_up_date": (date.today() + timedelta(days=14)).isoformat()}
    return render(ctx, "transfer_new.html", status_code, client=card["client"], selected=selected,
                  active_id=active, agencies=await _agencies(ctx), values=values, **extra)


@router.get("/clients/{code}/transfer")
async def new_transfer(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    item_ids = request.query_params.getlist("item")
    if not item_ids:
        return redirect(request, f"/clients/{code}", flash=_("Tick at least one item of the statement first."))
    return await _form(ctx, code, item_ids)


@router.post("/clients/{code}/transfer")
async def create_transfer(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    item_ids = form.getlist("item")
    body = {"item_ids": item_ids, "agency_code": form.get("agency_code", ""),
            "next_follow_up_date": form.get("next_follow_up_date") or None,
            "opening_comment": form.get("opening_comment", "")}
    try:
        transfer = await ctx.dossier.post(f"/clients/{code}/transfers", json=body)
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        errors = failure.by_field
        errors.setdefault("_", failure.message)
        return await _form(ctx, code, item_ids, 422, values=form_values(form), errors=errors)
    return redirect(request, f"/transfers/{transfer['id']}", flash=_("Items transferred."))


async def _detail(ctx: Ctx, transfer_id: str, template: str, **extra):
    transfer = await ctx.dossier.get(f"/transfers/{transfer_id}")
    return render(ctx, template, t=transfer, **extra)


@router.get("/transfers/{transfer_id}")
async def transfer_page(transfer_id: str, ctx: Ctx = Depends(signed_in)):
    return await _detail(ctx, transfer_id, "transfer.html")


@router.get("/transfers/{transfer_id}/status")
async def transfer_status(transfer_id: str, ctx: Ctx = Depends(signed_in)):
    """Polled every few seconds while the transfer is open: the agency's answer shows
    without reloading (F-29)."""
    return await _detail(ctx, transfer_id, "_transfer_status.html")


@router.post("/transfers/{transfer_id}/cancel")
async def cancel_transfer(transfer_id: str, request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    try:
        answer = await ctx.dossier.post(f"/transfers/{transfer_id}/cancel",
                                        json={"comment": form.get("comment", "")})
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        return await _detail(ctx, transfer_id, "_transfer_status.html", cancel_errors=failure.by_field,
                             cancel_values=form_values(form), open_gear=True)
    message = (_("Transfer ended: the items are back in the active dossier.") if answer["mode"] == "immediate"
               else _("Cancellation requested: the agency must validate it."))
    return await _detail(ctx, transfer_id, "_transfer_status.html", message=message)
