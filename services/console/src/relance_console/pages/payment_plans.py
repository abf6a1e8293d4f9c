"""The "Payment plan" panel of the client card (F-37): the client's plans with their
instalments and state, a form to agree a new one on chosen open items, cancellation, and
the temporary hold of the client's dunning (set until a date, lifted early). Every change
is one call to the dossier API as the signed-in user; a 422 is shown next to its field with
what the user typed kept."""

from fastapi import APIRouter, Depends, Request

from relance_console.api import ApiFailure
from relance_console.web import Ctx, form_values, render, signed_in

router = APIRouter()

# Rows of the new plan form: a row left empty is no instalment.
INSTALMENT_ROWS = 6
# The open items offered to a new plan (the card's first page of them, by due date).
ITEM_CHOICES = 500


async def _panel(ctx: Ctx, code: str, **extra):
    card = await ctx.dossier.get(f"/clients/{code}", params={"items_limit": ITEM_CHOICES})
    plans = await ctx.dossier.get(f"/clients/{code}/payment-plans")
    return render(ctx, "_payment_plans.html", code=code, client=card["client"], plans=plans,
                  items=[i for i in card["open_items"] if i["kind"] == "invoice"],
                  rows=range(INSTALMENT_ROWS),
                  errors=extra.pop("errors", {}), values=extra.pop("values", {}), **extra)


@router.get("/clients/{code}/payment-plans")
async def payment_plans(code: str, ctx: Ctx = Depends(signed_in)):
    return await _panel(ctx, code)


@router.post("/clients/{code}/payment-plans")
async def create_plan(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    filled = [n for n in range(INSTALMENT_ROWS) if form.get(f"due_date_{n}") or form.get(f"amount_{n}")]
    instalments = [{"due_date": form.get(f"due_date_{n}") or None, "amount": form.get(f"amount_{n}") or None}
                   for n in filled]
    body = {"item_ids": form.getlist("plan_item"), "instalments": instalments,
            "comment": form.get("comment") or None}
    try:
        await ctx.dossier.post(f"/clients/{code}/payment-plans", json=body)
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        values = form_values(form)
        values["plan_item"] = form.getlist("plan_item")
        return await _panel(ctx, code, errors=_row_errors(failure.by_field, filled), values=values)
    return await _panel(ctx, code)


def _row_errors(errors: dict[str, str], filled: list[int]) -> dict[str, str]:
    """`instalments.1.due_date` is the second row sent: the form row it came from (rows
    left empty are not sent) shows the reason."""
    shown = dict(errors)
    for field, reason in errors.items():
        parts = field.split(".")
        if len(parts) == 3 and parts[0] == "instalments" and parts[1].isdigit() \
                and int(parts[1]) < len(filled):
            shown[f"{parts[2]}_{filled[int(parts[1])]}"] = reason
    return shown


@router.post("/clients/{code}/payment-plans/{plan_id}/cancel")
async def cancel_plan(code: str, plan_id: str, request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    problem = None
    try:
        await ctx.dossier.post(f"/payment-plans/{plan_id}/cancel",
                               json={"comment": form.get("comment") or None})
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        problem = failure.message
    return await _panel(ctx, code, problem=problem)


@router.post("/clients/{code}/hold")
async def set_hold(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    try:
        await ctx.dossier.post(f"/clients/{code}/hold", json={
            "until": form.get("until") or None, "reason": form.get("reason", "")})
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        return await _panel(ctx, code, hold_errors=failure.by_field, hold_values=form_values(form))
    return await _panel(ctx, code)


@router.post("/clients/{code}/hold/lift")
async def lift_hold(code: str, ctx: Ctx = Depends(signed_in)):
    problem = None
    try:
        await ctx.dossier.delete(f"/clients/{code}/hold")
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        problem = failure.message
    return await _panel(ctx, code, problem=problem)
