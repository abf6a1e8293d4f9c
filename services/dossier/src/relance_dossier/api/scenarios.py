"""Dunning scenarios (versioned) and templates, and a client's scenario (F-9, F-18)."""

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, Field

from relance.api.auth import Principal, Role
from relance.api.errors import ApiError
from relance.scenarios import ScenarioStep
from relance.validation import CODE_MAX_LENGTH, CODE_PATTERN
from relance_dossier.api.auth import can_read, can_write, client_or_404, db_pool, require
from relance_dossier.api.models import LOCALE_PATTERN, ApiInput
from relance_dossier.domain.assignment import RuleCriteria
from relance_dossier.domain.scenarios import check_steps
from relance_dossier.domain.templates import check_template_syntax
from relance_dossier.persistence import clients as client_store
from relance_dossier.persistence import scenarios as store

router = APIRouter(tags=["scenarios"])
# Scenarios and templates are the organisation's settings: managers and admins edit them.
can_configure = require(Role.ADMIN, Role.MANAGER)


class ScenarioIn(ApiInput):
    name: str = Field(min_length=1, max_length=200)
    steps: list[ScenarioStep] = Field(min_length=1, max_length=50)
    is_default: bool | None = Field(default=None, description="None keeps the current setting")
    comment: str | None = Field(default=None, max_length=2000)


class NewScenarioIn(ScenarioIn):
    code: str = Field(min_length=1, max_length=CODE_MAX_LENGTH, pattern=CODE_PATTERN)


class ScenarioOut(BaseModel):
    code: str
    version: int
    name: str
    steps: list[ScenarioStep]
    is_default: bool
    created_at: datetime


class TemplateIn(ApiInput):
    channel: Literal["email", "letter", "sms", "internal_email"]
    locale: str = Field(default="fr", pattern=LOCALE_PATTERN)
    subject: str = Field(default="", max_length=500)
    body: str = Field(min_length=1, max_length=50_000)


class NewTemplateIn(TemplateIn):
    code: str = Field(min_length=1, max_length=CODE_MAX_LENGTH, pattern=CODE_PATTERN)


class TemplateOut(BaseModel):
    code: str
    channel: str
    locale: str
    subject: str
    body: str
    updated_at: datetime


class ClientScenarioIn(ApiInput):
    scenario_code: str | None = Field(description="None: the default scenario applies")
    comment: str | None = Field(default=None, max_length=2000)


class ClientScenarioOut(BaseModel):
    client_code: str
    scenario_code: str | None
    effective_scenario: str | None = Field(description="explicit, else the default (F-9)")


@router.get("/scenarios", response_model=list[ScenarioOut],
            summary="Every scenario in its latest version (F-9)")
async def list_scenarios(request: Request, principal: Principal = Depends(can_read)):
    async with db_pool(request).acquire() as conn:
        return [ScenarioOut(**dict(r)) for r in await store.latest_scenarios(conn)]


@router.get("/scenarios/{code}", response_model=ScenarioOut,
            summary="A scenario, latest version unless `version` is given")
async def get_scenario(code: str, request: Request, version: int | None = None,
                       principal: Principal = Depends(can_read)):
    async with db_pool(request).acquire() as conn:
        row = await store.scenario(conn, code, version)
    if row is None:
        raise ApiError(404, "code", f"no scenario {code!r}" + (f" v{version}" if version else ""))
    return ScenarioOut(**dict(row))


@router.get("/scenarios/{code}/versions", response_model=list[ScenarioOut],
            summary="Every version of a scenario, oldest first")
async def scenario_versions(code: str, request: Request, principal: Principal = Depends(can_read)):
    async with db_pool(request).acquire() as conn:
        rows = await store.versions(conn, code)
    if not rows:
        raise ApiError(404, "code", f"no scenario {code!r}")
    return [ScenarioOut(**dict(r)) for r in rows]


async def _save(conn, code: str, body: ScenarioIn, principal: Principal) -> ScenarioOut:
    check_steps(body.steps, await store.template_channels(conn))
    current = await store.scenario(conn, code)
    is_default = body.is_default if body.is_default is not None else bool(
        current and current["is_default"])
    row = await store.save_version(
        conn, code=code, name=body.name, steps=[s.model_dump(mode="json") for s in body.steps],
        is_default=is_default, actor=principal.actor, comment=body.comment,
    )
    return ScenarioOut(**dict(row))


@router.post("/scenarios", status_code=status.HTTP_201_CREATED, response_model=ScenarioOut,
             summary="Create a scenario (version 1), its steps validated (F-9)")
async def create_scenario(body: NewScenarioIn, request: Request,
                          principal: Principal = Depends(can_configure)):
    async with db_pool(request).acquire() as conn, conn.transaction():
        if await store.scenario(conn, body.code) is not None:
            raise ApiError(409, "code", f"scenario {body.code!r} exists; PUT a new version")
        return await _save(conn, body.code, body, principal)


@router.put("/scenarios/{code}", response_model=ScenarioOut,
            summary="Edit a scenario: writes a new version; running dossiers keep theirs (F-9)")
async def edit_scenario(code: str, body: ScenarioIn, request: Request,
                        principal: Principal = Depends(can_configure)):
    async with db_pool(request).acquire() as conn, conn.transaction():
        if await store.scenario(conn, code) is None:
            raise ApiError(404, "code", f"no scenario {code!r}")
        return await _save(conn, code, body, principal)


@router.get("/templates", response_model=list[TemplateOut],
            summary="Templates, one row per locale's version (F-18, F-39)")
async def list_templates(request: Request, principal: Principal = Depends(can_read)):
    async with db_pool(request).acquire() as conn:
        return [TemplateOut(**dict(r)) for r in await store.templates(conn)]


LocaleQuery = Query(default=None, pattern=LOCALE_PATTERN,
                    description="the version of this locale (F-39); none: the fallback "
                                "locale's, else the first")


@router.get("/templates/{code}", response_model=TemplateOut)
async def get_template(code: str, request: Request, locale: str | None = LocaleQuery,
                       principal: Principal = Depends(can_read)):
    async with db_pool(request).acquire() as conn:
        row = await store.template(conn, code, locale,
                                   request.app.state.settings.template_fallback_locale)
        exists = row is not None or await store.template_channel(conn, code) is not None
    if row is None:
        if exists:
            raise ApiError(404, "locale", f"template {code!r} has no {locale!r} version")
        raise ApiError(404, "code", f"no template {code!r}")
    return TemplateOut(**dict(row))


async def _check_channel(conn, code: str, channel: str) -> None:
    """A template's versions are one message in several languages: one channel (F-39)."""
    current = await store.template_channel(conn, code)
    if current is not None and current != channel:
        raise ApiError(422, "channel", f"template {code!r} is a {current} template in its "
                                       f"other locales")


@router.post("/templates", status_code=status.HTTP_201_CREATED, response_model=TemplateOut,
             summary="Create a template, or another locale's version of one (F-39); bodies may"
                     " use #items_amount_selected, #items_list_selected, #late_interest and "
                     "#recovery_indemnity (F-18, F-38)")
async def create_template(body: NewTemplateIn, request: Request,
                          principal: Principal = Depends(can_configure)):
    check_template_syntax(subject=body.subject, body=body.body)  # issue 10: 422 when given
    async with db_pool(request).acquire() as conn, conn.transaction():
        await _check_channel(conn, body.code, body.channel)
        row = await store.upsert_template(conn, code=body.code, channel=body.channel,
                                          locale=body.locale, subject=body.subject,
                                          body=body.body, actor=principal.actor, create=True)
    if row is None:
        raise ApiError(409, "code", f"template {body.code!r} already exists in {body.locale!r}")
    return TemplateOut(**dict(row))


@router.put("/templates/{code}", response_model=TemplateOut,
            summary="Write the version of `locale` of a template: edits it, or adds that "
                    "translation to an existing template (F-39)")
async def edit_template(code: str, body: TemplateIn, request: Request,
                        principal: Principal = Depends(can_configure)):
    check_template_syntax(subject=body.subject, body=body.body)
    async with db_pool(request).acquire() as conn, conn.transaction():
        if await store.template_channel(conn, code) is None:
            raise ApiError(404, "code", f"no template {code!r}")
        await _check_channel(conn, code, body.channel)
        row = await store.upsert_template(conn, code=code, channel=body.channel,
                                          locale=body.locale, subject=body.subject,
                                          body=body.body, actor=principal.actor, create=False)
    assert row is not None  # an upsert always writes its row
    return TemplateOut(**dict(row))


@router.delete("/templates/{code}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a template, or only its version of `locale` (F-39); a template "
                       "a scenario uses keeps at least one version")
async def delete_template(code: str, request: Request, locale: str | None = LocaleQuery,
                          principal: Principal = Depends(can_configure)):
    async with db_pool(request).acquire() as conn, conn.transaction():
        locales = await store.template_locales(conn, code)
        if not locales:
            raise ApiError(404, "code", f"no template {code!r}")
        if locale is not None and locale not in locales:
            raise ApiError(404, "locale", f"template {code!r} has no {locale!r} version")
        if locale is None or locales == [locale]:
            used_by = await store.template_in_use(conn, code)
            if used_by is not None:
                raise ApiError(409, "code", f"template {code!r} is used by scenario {used_by}")
        await store.delete_template(conn, code, principal.actor, locale)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/clients/{code}/scenario", response_model=ClientScenarioOut,
            summary="Give a client a scenario explicitly, or back to the default (F-9); "
                    "a running dossier keeps the scenario version it started with")
async def set_client_scenario(code: str, body: ClientScenarioIn, request: Request,
                              principal: Principal = Depends(can_write)):
    async with db_pool(request).acquire() as conn, conn.transaction():
        client = await client_or_404(conn, code, principal)
        if body.scenario_code is not None and await store.scenario(conn, body.scenario_code) is None:
            raise ApiError(422, "scenario_code", f"no scenario {body.scenario_code!r}")
        await store.set_client_scenario(conn, client["id"], body.scenario_code, principal.actor,
                                        body.comment)
        default = await conn.fetchval(
            "SELECT code FROM scenarios WHERE is_default ORDER BY version DESC LIMIT 1")
    return ClientScenarioOut(client_code=code, scenario_code=body.scenario_code,
                             effective_scenario=body.scenario_code or default)


class ScenarioRuleIn(ApiInput):
    criteria: RuleCriteria
    scenario_code: str = Field(min_length=1, max_length=100)


class ScenarioRuleOut(BaseModel):
    position: int
    criteria: RuleCriteria
    scenario_code: str


@router.get("/scenario-rules", response_model=list[ScenarioRuleOut],
            summary="The ordered rules giving a scenario to clients without an explicit one (F-9)")
async def list_scenario_rules(request: Request, principal: Principal = Depends(can_read)):
    rows = await db_pool(request).fetch(
        "SELECT position, criteria, scenario_code FROM scenario_rules ORDER BY position")
    return [ScenarioRuleOut(**dict(r)) for r in rows]


@router.put("/scenario-rules", response_model=list[ScenarioRuleOut],
            summary="Replace the ordered scenario rules: the first match wins, then the default "
                    "scenario (F-9). Running dossiers keep the scenario they started with.")
async def replace_scenario_rules(body: list[ScenarioRuleIn], request: Request,
                                 principal: Principal = Depends(can_configure)):
    async with db_pool(request).acquire() as conn, conn.transaction():
        for index, rule in enumerate(body):
            if rule.criteria.is_empty():
                raise ApiError(422, f"{index}.criteria", "a rule needs at least one criterion")
            if await store.scenario(conn, rule.scenario_code) is None:
                raise ApiError(422, f"{index}.scenario_code", f"no scenario {rule.scenario_code!r}")
        await conn.execute("DELETE FROM scenario_rules")
        await conn.executemany(
            "INSERT INTO scenario_rules (position, criteria, scenario_code, updated_by)"
            " VALUES ($1, $2, $3, $4)",
            [(i + 1, r.criteria.model_dump(mode="json"), r.scenario_code, principal.actor)
             for i, r in enumerate(body)],
        )
        await client_store.record_audit(
            conn, client_id=None, actor=principal.actor, action="replace", entity="scenario_rules",
            entity_id=None, details={"rules": [r.model_dump(mode="json") for r in body]},
        )
    return [ScenarioRuleOut(position=i + 1, criteria=r.criteria, scenario_code=r.scenario_code)
            for i, r in enumerate(body)]
