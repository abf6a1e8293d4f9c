"""The client card (F-1, F-2, F-24) and what hangs from it: the contact block with its
stars (F-21 … F-23), the note pad and files (F-25, F-26), the interventions tab (F-10 …
F-13) and the specific action wizard with its live preview (F-15 … F-19). Every change is
one call to the dossier API as the signed-in user; a 422 is shown next to its field with
what the user typed kept."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from relance_console import i18n
from relance_console.api import ApiFailure
from relance_console.web import Ctx, _, form_values, pages, redirect, render, signed_in, streamed

router = APIRouter()

# F-36: the aging buckets the dossier API computes on the card.
BUCKETS = (("not_due", "Not due"), ("days_1_30", "1–30 days"), ("days_31_60", "31–60 days"),
           ("days_61_90", "61–90 days"), ("days_90_plus", "90+ days"))
ITEM_STATUSES = ("dispute", "promise", "litigation", "claim", "on_hold")


def holders(card: dict) -> dict[str, dict]:
    """Which dossier holds each item: the active one or a transfer (F-2)."""
    found = {}
    if card.get("active_dossier"):
        found[card["active_dossier"]["id"]] = {"kind": "active", "label": _("Active dossier")}
    for dossier in card.get("transfer_dossiers", []):
        found[dossier["id"]] = {"kind": "transfer", "state": dossier["state"],
                                "label": _("Transfer") + f" {dossier.get('agency_code') or ''}".rstrip()}
    return found


def _local_datetime(value: str | None, timezone: str) -> str | None:
    """A `datetime-local` or date field as an ISO instant in the console's time zone."""
    if not value:
        return None
    if len(value) == 10:
        value += "T09:00"
    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(timezone)).isoformat()


async def _card(ctx: Ctx, code: str) -> dict:
    return await ctx.dossier.get(f"/clients/{code}")


@router.get("/clients/{code}")
async def client_card(code: str, ctx: Ctx = Depends(signed_in), page: int = 1):
    """The card with one page of the account statement: the API sends that page only."""
    size, page = ctx.page_size, max(1, page)
    card = await ctx.dossier.get(f"/clients/{code}", params={"items_limit": size, "items_offset": (page - 1) * size})
    collectors = await ctx.dossier.get("/collectors")
    transfers = await ctx.dossier.get(f"/clients/{code}/transfers")
    return render(ctx, "client.html", card=card, client=card["client"], collectors=collectors,
                  items=card["open_items"], pager=pages(card["open_item_count"], page, size),
                  holders=holders(card), aging=card["aging"], buckets=BUCKETS,
                  transfers=transfers, item_statuses=ITEM_STATUSES)


@router.post("/clients/{code}/collector")
async def change_collector(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    """F-24, F-5: the client's collector from the drop-down."""
    form = await request.form()
    try:
        await ctx.dossier.put(f"/clients/{code}/collector", json={
            "collector_code": form.get("collector_code") or None, "comment": form.get("comment") or None})
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        return redirect(request, f"/clients/{code}", flash=failure.message)
    return redirect(request, f"/clients/{code}", flash=_("Collector changed."))


# ---- late fees and interest (F-38) ---------------------------------------------------------

async def _late_fees(ctx: Ctx, code: str):
    fees = await ctx.dossier.get(f"/clients/{code}/late-fees")
    chargeable = any(Decimal(str(t["total"])) > 0 for t in fees["totals"])
    return render(ctx, "_late_fees.html", code=code, fees=fees, chargeable=chargeable)


@router.get("/clients/{code}/late-fees")
async def late_fees(code: str, ctx: Ctx = Depends(signed_in)):
    """The fees owed today per currency, and per late invoice (F-38)."""
    return await _late_fees(ctx, code)


@router.post("/clients/{code}/late-fees/charge")
async def charge_late_fees(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    """Add today's fees as items (managers and admins, F-38), then the card again: its
    statement and balance show them."""
    result = await ctx.dossier.post(f"/clients/{code}/late-fees/charge", json={})
    message = _("{count} fee items added.").format(count=len(result["charged"]))
    return redirect(request, f"/clients/{code}", flash=message)


# ---- contacts (F-21 … F-23) ----------------------------------------------------------------

async def _contacts(ctx: Ctx, code: str, show_invalid: bool, **extra):
    contacts = await ctx.dossier.get(f"/clients/{code}/contacts",
                                     params={"include_invalid": str(show_invalid).lower()})
    return render(ctx, "_contacts.html", code=code, contacts=contacts, show_invalid=show_invalid, **extra)


@router.get("/clients/{code}/contacts")
async def contacts(code: str, ctx: Ctx = Depends(signed_in), show_invalid: bool = False):
    return await _contacts(ctx, code, show_invalid)


@router.post("/clients/{code}/contacts")
async def create_contact(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    show_invalid = form.get("show_invalid") == "true"
    body = {"name": form.get("name", ""), "observation": form.get("observation") or None, "channels": []}
    if form.get("channel_value"):
        body["channels"].append({"type": form.get("channel_type", "email"), "value": form.get("channel_value")})
    try:
        await ctx.dossier.post(f"/clients/{code}/contacts", json=body)
    except ApiFailure as failure:
        if failure.status != 422:
            raise
        errors = failure.by_field
        if "channels.0.value" in errors or "value" in errors:
            errors["channel_value"] = errors.get("channels.0.value", errors.get("value"))
        return await _contacts(ctx, code, show_invalid, new_errors=errors, new_values=form_values(form))
    return await _contacts(ctx, code, show_invalid)


@router.post("/clients/{code}/contacts/{contact_id}")
async def edit_contact(code: str, contact_id: str, request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    try:
        await ctx.dossier.patch(f"/clients/{code}/contacts/{contact_id}", json={
            "name": form.get("name") or None, "observation": form.get("observation", ""),
            "language": form.get("language") or None})
    except ApiFailure as failure:
        if failure.status != 422:
            raise
        return await _contacts(ctx, code, form.get("show_invalid") == "true",
                               edit_errors={contact_id: failure.by_field})
    return await _contacts(ctx, code, form.get("show_invalid") == "true")


@router.post("/clients/{code}/contacts/{contact_id}/channels")
async def add_channel(code: str, contact_id: str, request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    try:
        await ctx.dossier.post(f"/clients/{code}/contacts/{contact_id}/channels", json={
            "type": form.get("type", "email"), "value": form.get("value", "")})
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        return await _contacts(ctx, code, form.get("show_invalid") == "true",
                               channel_errors={contact_id: failure.by_field},
                               channel_values={contact_id: form_values(form)})
    return await _contacts(ctx, code, form.get("show_invalid") == "true")


@router.post("/clients/{code}/contacts/{contact_id}/channels/{channel_id}/{action}")
async def channel_action(code: str, contact_id: str, channel_id: str, action: str, request: Request,
                         ctx: Ctx = Depends(signed_in)):
    """validate / invalidate / cancel-validation / make-default (F-21, F-22)."""
    form = await request.form()
    problem = None
    if action not in ("validate", "invalidate", "cancel-validation", "make-default"):
        return Response(status_code=404)
    try:
        await ctx.dossier.post(f"/clients/{code}/contacts/{contact_id}/channels/{channel_id}/{action}",
                               json={"comment": form.get("comment") or None})
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        problem = failure.message
    return await _contacts(ctx, code, form.get("show_invalid") == "true", problem=problem)


@router.post("/clients/{code}/communications")
async def contact_client(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    """F-23: call, letter, SMS or email from a contact channel."""
    form = await request.form()
    body = {"channel": form.get("channel"), "channel_id": form.get("channel_id") or None,
            "template_code": form.get("template_code") or None, "subject": form.get("subject") or None,
            "body": form.get("body") or None, "note": form.get("note") or None}
    try:
        await ctx.dossier.post(f"/clients/{code}/communications", json=body)
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        errors = failure.by_field
        errors.setdefault("_", failure.message)
        return await _contacts(ctx, code, form.get("show_invalid") == "true",
                               comm_errors=errors, comm_values=form_values(form))
    response = await _contacts(ctx, code, form.get("show_invalid") == "true",
                               problem=None, sent=_("Communication requested."))
    response.headers["HX-Trigger"] = "communications-changed"
    return response


@router.get("/clients/{code}/communications")
async def communications(code: str, ctx: Ctx = Depends(signed_in), watch: int = 0):
    """The trace; after a communication is asked for, it refreshes itself a few times
    while the notifier sends it (F-23, F-32)."""
    trace = await ctx.dossier.get(f"/clients/{code}/communications")
    return render(ctx, "_communications.html", code=code, trace=trace[:50], watch=max(0, min(watch, 30)))


# ---- notes and files (F-25, F-26) -------------------------------------------------------------

@router.post("/clients/{code}/notes")
async def add_note(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    errors, values = {}, {}
    try:
        await ctx.dossier.post(f"/clients/{code}/notes", json={"text": form.get("text", "")})
    except ApiFailure as failure:
        if failure.status != 422:
            raise
        errors, values = failure.by_field, form_values(form)
    card = await _card(ctx, code)
    return render(ctx, "_notes.html", code=code, notes=card["notes"], errors=errors, values=values)


@router.post("/clients/{code}/files")
async def upload_file(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    upload = form.get("file")
    errors, values = {}, form_values(form)
    if upload is None or isinstance(upload, str) or not upload.filename:
        errors = {"file": _("Choose a file.")}
    else:
        try:
            await ctx.dossier.post(f"/clients/{code}/attachments",
                                   files={"file": (upload.filename, await upload.read(),
                                                   upload.content_type or "application/octet-stream")},
                                   data={"description": form.get("description") or "",
                                         "item_number": form.get("item_number") or ""})
            values = {}
        except ApiFailure as failure:
            if failure.status not in (413, 415, 422):
                raise
            errors = failure.by_field
            errors.setdefault("file", failure.message)
    card = await _card(ctx, code)
    return render(ctx, "_files.html", code=code, attachments=card["attachments"], errors=errors, values=values,
                  open_items=card["open_items"])


@router.get("/clients/{code}/files/{attachment_id}")
async def download_file(code: str, attachment_id: str, ctx: Ctx = Depends(signed_in)):
    response = await ctx.dossier.get(f"/clients/{code}/attachments/{attachment_id}/content", raw=True)
    return _passthrough(response)


@router.get("/clients/{code}/statement.{fmt}")
async def export_statement(code: str, fmt: str, ctx: Ctx = Depends(signed_in)):
    """F-40: the client's statement of open items, CSV or XLSX."""
    return streamed(await ctx.dossier.stream(f"/clients/{code}/statement", params={"format": fmt}))


@router.get("/reports/aging.{fmt}")
async def export_aging(fmt: str, ctx: Ctx = Depends(signed_in), collector: str | None = None):
    """F-40: the aging report of the clients the user may see, CSV or XLSX."""
    params = {"format": fmt, "mine": "false", **({"collector": collector} if collector else {})}
    return streamed(await ctx.dossier.stream("/reports/aging", params=params))


def _passthrough(response) -> Response:
    headers = {k: v for k, v in response.headers.items()
               if k.lower() in ("content-type", "content-disposition", "content-length")}
    return Response(content=response.content, headers=headers)


@router.delete("/clients/{code}/files/{attachment_id}")
async def delete_file(code: str, attachment_id: str, ctx: Ctx = Depends(signed_in)):
    await ctx.dossier.delete(f"/clients/{code}/attachments/{attachment_id}")
    card = await _card(ctx, code)
    return render(ctx, "_files.html", code=code, attachments=card["attachments"], open_items=card["open_items"])


# ---- interventions (F-10 … F-13) ----------------------------------------------------------------

async def _interventions(ctx: Ctx, code: str, **extra):
    interventions = await ctx.dossier.get(f"/clients/{code}/interventions")
    details = {}
    for row in interventions:
        if row["status"] == "todo" or row["origin"] != "scenario":
            details[row["id"]] = await ctx.dossier.get(f"/interventions/{row['id']}")
    done = [i for i in interventions if i["status"] != "todo"]
    for row in done[-10:]:
        details.setdefault(row["id"], await ctx.dossier.get(f"/interventions/{row['id']}"))
    prompt = None
    try:
        prompt = await ctx.dossier.get(f"/clients/{code}/dossier/prompt")
    except ApiFailure as failure:
        if failure.status not in (404, 409):
            raise
    # After a command, or while a prepared letter is being printed, the tab refreshes itself
    # a few times so what the workflow does next (F-10, F-11) shows without a reload.
    watch = int(extra.pop("watch", 0) or 0)
    printing = any(d.get("prepared_at") and d["status"] == "todo" for d in details.values())
    if printing:
        watch = max(watch, 1)
    elif prompt and prompt.get("next_step_available"):
        watch = 0  # nothing more to wait for: the prompt is there
    scenario_letters = [c for c in await ctx.dossier.get(f"/clients/{code}/communications")
                        if c["channel"] == "letter" and c.get("attachment_id")]
    letters = {c["intervention_id"]: c["attachment_id"] for c in scenario_letters if c.get("intervention_id")}
    return render(ctx, "_interventions.html", code=code, interventions=interventions, details=details,
                  prompt=prompt, watch=watch, letters=letters, **extra)


@router.get("/clients/{code}/interventions")
async def interventions(code: str, ctx: Ctx = Depends(signed_in), watch: int = 0):
    return await _interventions(ctx, code, watch=max(0, min(watch, 30)))


@router.post("/clients/{code}/interventions/{intervention_id}/document")
async def attach_document(code: str, intervention_id: str, request: Request, ctx: Ctx = Depends(signed_in)):
    """F-13: one document, never replaced nor deleted."""
    form = await request.form()
    upload = form.get("file")
    problem = None
    if upload is None or isinstance(upload, str) or not upload.filename:
        problem = _("Choose a file.")
    else:
        try:
            await ctx.dossier.put(f"/interventions/{intervention_id}/document",
                                  files={"file": (upload.filename, await upload.read(),
                                                  upload.content_type or "application/octet-stream")})
        except ApiFailure as failure:
            if failure.status not in (409, 413, 422):
                raise
            problem = failure.message
    return await _interventions(ctx, code, problem=problem)


@router.post("/clients/{code}/interventions/{intervention_id}/{command}")
async def intervention_command(code: str, intervention_id: str, command: str, request: Request,
                               ctx: Ctx = Depends(signed_in)):
    """Save a line, mark Done or Skipped, Prepare (F-10)."""
    form = await request.form()
    problem, result = None, None
    try:
        if command == "save":
            await ctx.dossier.patch(f"/interventions/{intervention_id}", json={
                "comment": form.get("comment") or None,
                "due_at": _local_datetime(form.get("due_at"), ctx.settings.timezone)})
        elif command in ("done", "skip", "prepare"):
            result = await ctx.dossier.post(f"/interventions/{intervention_id}/{command}",
                                            json={"comment": form.get("comment") or None})
        else:
            return Response(status_code=404)
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        problem = failure.message
    return await _interventions(ctx, code, problem=problem, result=result, watch=0 if command == "save" else 15)


@router.post("/clients/{code}/interventions")
async def new_intervention(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    """F-12: a task, an alert or a promise to pay, by hand."""
    form = await request.form()
    body = {"kind": form.get("kind", "manual"), "action_type": form.get("action_type", "internal_task"),
            "due_at": _local_datetime(form.get("due_at"), ctx.settings.timezone),
            "priority": int(form.get("priority") or 1), "comment": form.get("comment") or None,
            "label": form.get("label") or None, "promise_amount": form.get("promise_amount") or None,
            "promise_date": form.get("promise_date") or None}
    try:
        await ctx.dossier.post(f"/clients/{code}/interventions", json=body)
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        return await _interventions(ctx, code, new_errors=failure.by_field, new_values=form_values(form))
    return await _interventions(ctx, code)


@router.post("/clients/{code}/prepare-next")
async def prepare_next(code: str, ctx: Ctx = Depends(signed_in)):
    """F-11: the answer Yes to "prepare the next intervention?"."""
    problem = None
    try:
        await ctx.dossier.post(f"/clients/{code}/dossier/prepare-next", json={})
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        problem = failure.message
    return await _interventions(ctx, code, problem=problem, watch=15)


@router.delete("/clients/{code}/interventions/{intervention_id}")
async def delete_intervention(code: str, intervention_id: str, ctx: Ctx = Depends(signed_in)):
    problem = None
    try:
        await ctx.dossier.delete(f"/interventions/{intervention_id}", params={"confirm": "true"})
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        problem = failure.message
    return await _interventions(ctx, code, problem=problem)


@router.get("/clients/{code}/interventions/{intervention_id}/document")
async def open_document(code: str, intervention_id: str, ctx: Ctx = Depends(signed_in)):
    return _passthrough(await ctx.dossier.get(f"/interventions/{intervention_id}/document", raw=True))


# ---- specific actions (F-15 … F-19) -------------------------------------------------------------

def _selected(card: dict, item_ids: list[str]) -> list[dict]:
    wanted = set(item_ids)
    return [i for i in card["open_items"] if i["id"] in wanted]


def render_tags(text: str | None, items: list[dict]) -> str:
    """F-18: `#items_amount_selected` is the sum of the selected items' open amounts and
    `#items_list_selected` their statement, in the user's locale."""
    if not text:
        return ""
    currency = items[0]["currency"] if items else "EUR"
    total = sum((Decimal(i["open_amount"]) for i in items), Decimal("0"))
    listing = "\n".join(f"{i['number']}  {i18n.day(i['due_date'])}  {i18n.money(i['open_amount'], i['currency'])}"
                        for i in items)
    return (text.replace("#items_list_selected", listing)
                .replace("#items_amount_selected", i18n.money(total, currency)))


async def _wizard(ctx: Ctx, code: str, item_ids: list[str], status_code: int = 200, **extra):
    card = await _card(ctx, code)
    templates = await ctx.dossier.get("/templates")
    scenarios = await ctx.dossier.get("/scenarios")
    selected = _selected(card, item_ids)
    values = extra.pop("values", {})
    template = next((t for t in templates if t["code"] == values.get("copy_template")), None)
    subject = values.get("subject") or (template or {}).get("subject") or ""
    body = values.get("body") or (template or {}).get("body") or ""
    return render(ctx, "specific_action.html", status_code, card=card, client=card["client"], selected=selected,
                  templates=templates, scenarios=scenarios, item_statuses=ITEM_STATUSES,
                  values=values, subject=subject, body=body,
                  preview_subject=render_tags(subject, selected), preview_body=render_tags(body, selected),
                  **extra)


@router.get("/clients/{code}/specific-action")
async def specific_action_form(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    item_ids = request.query_params.getlist("item")
    if not item_ids:
        return redirect(request, f"/clients/{code}", flash=_("Tick at least one item of the statement first."))
    return await _wizard(ctx, code, item_ids, values={"follow": "scenario", "email_to": "none"})


@router.post("/clients/{code}/specific-action/preview")
async def specific_action_preview(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    """The live preview: the tags rendered on the ticked items only (F-18)."""
    form = await request.form()
    card = await _card(ctx, code)
    selected = _selected(card, form.getlist("item"))
    subject, body = form.get("subject", ""), form.get("body", "")
    template_code = form.get("copy_template")
    if template_code and not body:
        template = await ctx.dossier.get(f"/templates/{template_code}")
        subject, body = subject or template.get("subject") or "", template.get("body") or ""
    return render(ctx, "_preview.html", preview_subject=render_tags(subject, selected),
                  preview_body=render_tags(body, selected), selected=selected)


@router.get("/clients/{code}/specific-action/template")
async def specific_action_template(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    """Copy a template's subject and body into the form, to edit them (F-17)."""
    values = dict(request.query_params)
    template = None
    if values.get("copy_template"):
        template = await ctx.dossier.get(f"/templates/{values['copy_template']}")
    response = render(ctx, "_action_text.html", subject=(template or {}).get("subject") or "",
                      body=(template or {}).get("body") or "", values={})
    response.headers["HX-Trigger-After-Settle"] = "refresh-preview"
    return response


@router.post("/clients/{code}/specific-action")
async def create_specific_action(code: str, request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    item_ids = form.getlist("item")
    values = form_values(form)
    body: dict = {"item_ids": item_ids}
    if form.get("set_status") == "yes":
        body["set_status"] = {"status": form.get("status") or None, "comment": form.get("status_comment") or None}
    email_to = form.get("email_to", "none")
    if email_to in ("client", "colleague"):
        body["email"] = {"to": email_to, "template_code": form.get("email_template") or None,
                         "colleague_email": form.get("colleague_email") or None,
                         "note": form.get("email_note") or None}
    if form.get("follow") == "action":
        step = {"follow": "action", "action_type": form.get("action_type") or None,
                "mode": form.get("mode") or None, "priority": int(form.get("priority") or 1),
                "subject": form.get("subject") or None, "body": form.get("body") or None,
                "label": form.get("label") or None, "comment": form.get("comment") or None,
                "due_at": _local_datetime(form.get("due_at"), ctx.settings.timezone)}
        if form.get("copy_template"):
            step["copy_from"] = {"template_code": form.get("copy_template")}
        elif form.get("copy_step"):
            scenario, _sep, index = form.get("copy_step").rpartition(":")
            step["copy_from"] = {"scenario_code": scenario, "step_index": int(index)}
        body["next"] = step
    else:
        body["next"] = {"follow": "scenario"}
    try:
        await ctx.dossier.post(f"/clients/{code}/specific-actions", json=body)
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        errors = failure.by_field
        errors.setdefault("_", failure.message)
        return await _wizard(ctx, code, item_ids, 422, values=values, errors=errors)
    return redirect(request, f"/clients/{code}", flash=_("Specific action saved."))
