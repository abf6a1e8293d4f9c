"""Administration (F-4, F-6, F-9, F-31) and the ERP import (F-3): users and roles,
collectors, ordered assignment rules and the default collector, scenarios and templates,
agencies. Each form is one call to the API; the API decides who may."""

from fastapi import APIRouter, Depends, Request

from relance_console.api import ApiFailure
from relance_console.web import Ctx, _, form_values, render, signed_in

router = APIRouter()
ROLES = ("admin", "manager", "collector", "read_only")


def _refusal(failure: ApiFailure) -> dict:
    if failure.status not in (409, 413, 415, 422):
        raise failure
    errors = failure.by_field
    errors.setdefault("_", failure.message)
    return errors


@router.get("/admin")
async def admin_home(ctx: Ctx = Depends(signed_in)):
    return render(ctx, "admin/home.html")


# ---- users and collectors (F-4) ------------------------------------------------------------

async def _users(ctx: Ctx, status_code: int = 200, **extra):
    users = await ctx.dossier.get("/users")
    collectors = await ctx.dossier.get("/collectors")
    return render(ctx, "admin/users.html", status_code, users=users, collectors=collectors, roles=ROLES, **extra)


@router.get("/admin/users")
async def users(ctx: Ctx = Depends(signed_in)):
    return await _users(ctx)


@router.post("/admin/users")
async def create_user(request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    body = {"name": form.get("name", ""), "email": form.get("email") or None, "role": form.get("role"),
            "collector_code": form.get("collector_code") or None, "password": form.get("password") or None}
    try:
        created = await ctx.dossier.post("/users", json=body)
    except ApiFailure as failure:
        return await _users(ctx, 422, errors=_refusal(failure), values=form_values(form))
    return await _users(ctx, message=_("User {name} created.").format(name=created["name"]))


@router.post("/admin/users/{user_id}/password")
async def set_password(user_id: str, request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    try:
        await ctx.dossier.put(f"/users/{user_id}/password", json={"password": form.get("password", "")})
    except ApiFailure as failure:
        return await _users(ctx, 422, password_errors={user_id: _refusal(failure).get("password", failure.message)})
    return await _users(ctx, message=_("Password changed."))


@router.post("/admin/users/{user_id}/deactivate")
async def deactivate_user(user_id: str, ctx: Ctx = Depends(signed_in)):
    try:
        await ctx.dossier.post(f"/users/{user_id}/deactivate")
    except ApiFailure as failure:
        return await _users(ctx, 422, errors=_refusal(failure))
    return await _users(ctx, message=_("User deactivated."))


async def _collectors(ctx: Ctx, status_code: int = 200, **extra):
    return render(ctx, "admin/collectors.html", status_code, collectors=await ctx.dossier.get("/collectors"),
                  users=await ctx.dossier.get("/users") if ctx.session.is_admin else [], **extra)


@router.get("/admin/collectors")
async def collectors(ctx: Ctx = Depends(signed_in)):
    return await _collectors(ctx)


@router.post("/admin/collectors")
async def create_collector(request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    try:
        await ctx.dossier.post("/collectors", json={"code": form.get("code", ""), "name": form.get("name", ""),
                                                    "email": form.get("email") or None})
    except ApiFailure as failure:
        return await _collectors(ctx, 422, errors=_refusal(failure), values=form_values(form))
    return await _collectors(ctx, message=_("Collector created."))


# ---- assignment rules and the default collector (F-6) ---------------------------------------

RULE_FIELDS = ("country", "segment", "category", "risk")


async def _assignment(ctx: Ctx, status_code: int = 200, **extra):
    return render(ctx, "admin/assignment.html", status_code, rules=await ctx.dossier.get("/assignment/rules"),
                  default=await ctx.dossier.get("/assignment/default-collector"),
                  collectors=await ctx.dossier.get("/collectors"), rule_fields=RULE_FIELDS, **extra)


@router.get("/admin/assignment")
async def assignment(ctx: Ctx = Depends(signed_in)):
    return await _assignment(ctx)


def _rule_body(rule: dict) -> dict:
    return {"criteria": {k: v for k, v in rule["criteria"].items() if v not in (None, [], "")},
            "collector_code": rule["collector_code"]}


@router.post("/admin/assignment/rules")
async def add_rule(request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    rules = [_rule_body(r) for r in await ctx.dossier.get("/assignment/rules")]
    criteria = {k: form.get(k) for k in RULE_FIELDS if form.get(k)}
    if form.get("tags"):
        criteria["tags"] = [t.strip() for t in form.get("tags").split(",") if t.strip()]
    rule = {"criteria": criteria, "collector_code": form.get("collector_code", "")}
    position = int(form.get("position") or len(rules) + 1)
    rules.insert(max(0, min(len(rules), position - 1)), rule)
    try:
        await ctx.dossier.put("/assignment/rules", json={"rules": rules})
    except ApiFailure as failure:
        errors = _refusal(failure)
        for key, reason in list(errors.items()):  # rules.3.collector_code → collector_code
            errors.setdefault(key.rsplit(".", 1)[-1], reason)
        return await _assignment(ctx, 422, errors=errors, values=form_values(form))
    return await _assignment(ctx, message=_("Rule saved."))


@router.post("/admin/assignment/rules/{position}/delete")
async def delete_rule(position: int, ctx: Ctx = Depends(signed_in)):
    rules = [_rule_body(r) for r in await ctx.dossier.get("/assignment/rules") if r["position"] != position]
    await ctx.dossier.put("/assignment/rules", json={"rules": rules})
    return await _assignment(ctx, message=_("Rule deleted."))


@router.post("/admin/assignment/default")
async def set_default(request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    try:
        await ctx.dossier.put("/assignment/default-collector",
                              json={"collector_code": form.get("default_collector") or None})
    except ApiFailure as failure:
        errors = _refusal(failure)
        errors["default_collector"] = errors.get("collector_code", failure.message)
        return await _assignment(ctx, 422, errors=errors)
    return await _assignment(ctx, message=_("Default collector saved."))


@router.post("/admin/assignment/apply")
async def apply_rules(request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    counts = await ctx.dossier.post("/assignment/apply", json={"only_unassigned": form.get("scope") != "all"})
    message = _("Rules applied: {changed} clients changed.").format(changed=counts["changed"])
    return await _assignment(ctx, message=message)


# ---- scenarios and templates (F-9, F-18) ---------------------------------------------------------

async def _scenarios(ctx: Ctx, status_code: int = 200, **extra):
    return render(ctx, "admin/scenarios.html", status_code, scenarios=await ctx.dossier.get("/scenarios"),
                  templates=await ctx.dossier.get("/templates"), **extra)


@router.get("/admin/scenarios")
async def scenarios(ctx: Ctx = Depends(signed_in)):
    return await _scenarios(ctx)


@router.get("/admin/scenarios/{code}/versions")
async def scenario_versions(code: str, ctx: Ctx = Depends(signed_in)):
    """Every version of a scenario, newest first; running dossiers keep theirs (F-9)."""
    versions = await ctx.dossier.get(f"/scenarios/{code}/versions")
    return render(ctx, "admin/_versions.html", versions=list(reversed(versions)))


def parse_steps(text: str) -> list[dict]:
    """One step a line: `type; delay days; template; priority; mode; label`."""
    steps = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(";")]
        parts += [""] * (6 - len(parts))
        step = {"action_type": parts[0], "delay_days": parts[1] or "0"}
        if parts[2]:
            step["template_code"] = parts[2]
        if parts[3]:
            step["priority"] = parts[3]
        if parts[4]:
            step["mode"] = parts[4]
        if parts[5]:
            step["label"] = parts[5]
        steps.append(step)
    return steps


@router.post("/admin/scenarios")
async def save_scenario(request: Request, ctx: Ctx = Depends(signed_in)):
    """Create a scenario, or write a new version of an existing one (F-9)."""
    form = await request.form()
    code = form.get("code", "")
    body = {"name": form.get("name", ""), "steps": parse_steps(form.get("steps", "")),
            "is_default": True if form.get("is_default") == "true" else None}
    existing = {s["code"] for s in await ctx.dossier.get("/scenarios")}
    try:
        if code in existing:
            await ctx.dossier.put(f"/scenarios/{code}", json=body)
        else:
            await ctx.dossier.post("/scenarios", json={**body, "code": code})
    except ApiFailure as failure:
        return await _scenarios(ctx, 422, errors=_refusal(failure), values=form_values(form))
    return await _scenarios(ctx, message=_("Scenario saved."))


@router.get("/admin/templates/{code}/{locale}")
async def edit_template(code: str, locale: str, ctx: Ctx = Depends(signed_in)):
    """One language's version of a template in the form, to edit it (F-39)."""
    template = await ctx.dossier.get(f"/templates/{code}", params={"locale": locale})
    return await _scenarios(ctx, template_values={
        k: template[k] for k in ("code", "channel", "locale", "subject", "body")})


@router.post("/admin/templates")
async def save_template(request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    code = form.get("code", "")
    body = {"channel": form.get("channel"), "locale": form.get("locale") or "fr",
            "subject": form.get("subject", ""), "body": form.get("body", "")}
    existing = {t["code"] for t in await ctx.dossier.get("/templates")}
    try:
        if code in existing:
            await ctx.dossier.put(f"/templates/{code}", json=body)
        else:
            await ctx.dossier.post("/templates", json={**body, "code": code})
    except ApiFailure as failure:
        return await _scenarios(ctx, 422, template_errors=_refusal(failure), template_values=form_values(form))
    return await _scenarios(ctx, message=_("Template saved."))


# ---- agencies (F-31), through the gateway's admin API ------------------------------------------

async def _agencies(ctx: Ctx, status_code: int = 200, **extra):
    return render(ctx, "admin/agencies.html", status_code, agencies=await ctx.gateway.get("/admin/agencies"), **extra)


@router.get("/admin/agencies")
async def agencies(ctx: Ctx = Depends(signed_in)):
    return await _agencies(ctx)


@router.post("/admin/agencies")
async def register_agency(request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    try:
        created = await ctx.gateway.post("/admin/agencies", json={
            "code": form.get("code", ""), "name": form.get("name", ""),
            "webhook_url": form.get("webhook_url") or None})
    except ApiFailure as failure:
        return await _agencies(ctx, 422, errors=_refusal(failure), values=form_values(form))
    return await _agencies(ctx, credentials=created["credentials"], message=_("Agency registered."))


@router.post("/admin/agencies/{code}/rotate")
async def rotate_secret(code: str, ctx: Ctx = Depends(signed_in)):
    credentials = await ctx.gateway.post(f"/admin/agencies/{code}/secrets")
    return await _agencies(ctx, credentials=credentials, message=_("New signing secret issued."))


@router.post("/admin/agencies/{code}/deactivate")
async def deactivate_agency(code: str, ctx: Ctx = Depends(signed_in)):
    await ctx.gateway.patch(f"/admin/agencies/{code}", json={"active": False})
    return await _agencies(ctx, message=_("Agency deactivated."))


# ---- import (F-3) -----------------------------------------------------------------------------

@router.get("/import")
async def import_page(ctx: Ctx = Depends(signed_in)):
    return render(ctx, "import.html")


@router.post("/import")
async def run_import(request: Request, ctx: Ctx = Depends(signed_in)):
    form = await request.form()
    upload, kind = form.get("file"), form.get("kind", "clients")
    if upload is None or isinstance(upload, str) or not upload.filename:
        return render(ctx, "_import_report.html", 422, errors={"file": _("Choose a file.")})
    try:
        report = await ctx.dossier.post(
            f"/imports/{kind}", files={"file": (upload.filename, await upload.read(),
                                                upload.content_type or "application/octet-stream")})
    except ApiFailure as failure:
        return render(ctx, "_import_report.html", 422, errors=_refusal(failure))
    return render(ctx, "_import_report.html", report=report)
