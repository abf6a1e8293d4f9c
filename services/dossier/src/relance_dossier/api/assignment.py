"""Assigning collectors (F-5, F-6, F-24): on the client card (also used by the contact
block), in mass on a selection, and automatically by ordered rules and a default
collector, re-applicable on demand. Every change is audited per client (F-33) and
announced by a `client.collector_changed` event in the same transaction."""

from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from relance.api.auth import Principal, Role
from relance.api.errors import ApiError
from relance_dossier.api.auth import can_read, can_write, client_or_404, db_pool, require
from relance_dossier.api.models import ApiInput
from relance_dossier.api.search import Selection, check_collector_code, parsed_codes, visibility_of
from relance_dossier.domain.assignment import ClientCriteria, RuleCriteria
from relance_dossier.persistence import assignment as store
from relance_dossier.persistence import search as search_store
from relance_dossier.persistence.collectors import collector_by_code

router = APIRouter(tags=["assignment"])

managers = require(Role.ADMIN, Role.MANAGER)

Comment = Field(default=None, max_length=2000, description="Why: kept in the audit trail (F-33)")


class CollectorChangeIn(ApiInput):
    collector_code: str | None = Field(description="The new collector; null leaves the client without one")
    comment: str | None = Comment


class CollectorChangeOut(BaseModel):
    client_code: str
    collector_code: str | None
    changed: bool = Field(description="False when the client already had this collector")


class MassAssignmentIn(Selection):
    saved_search_id: UUID | None = Field(
        default=None, description="Select with one of my saved searches instead of codes/criteria"
    )
    collector_code: str | None = Field(description="The new collector; null leaves the clients without one")
    comment: str | None = Comment


class AssignmentCounts(BaseModel):
    selected: int = Field(description="Clients in the selection")
    changed: int = Field(description="Clients whose collector changed")
    unchanged: int = Field(description="Clients that already had the wanted collector")
    unknown_codes: list[str] = Field(default_factory=list)


class RuleIn(ApiInput):
    criteria: RuleCriteria
    collector_code: str = Field(min_length=1, max_length=100)


class RulesIn(ApiInput):
    rules: list[RuleIn] = Field(description="In order: the first rule that matches wins")
    comment: str | None = Comment


class RuleOut(BaseModel):
    position: int
    criteria: RuleCriteria
    collector_code: str


class DefaultCollectorIn(ApiInput):
    collector_code: str | None
    comment: str | None = Comment


class DefaultCollectorOut(BaseModel):
    collector_code: str | None


class ApplyRulesIn(ApiInput):
    only_unassigned: bool = Field(
        default=True,
        description="true: only the clients without a collector; false: every client (a "
        "client no rule matches goes to the default collector, or keeps its collector "
        "when there is no default)",
    )
    comment: str | None = Comment


async def _collector_id(conn: asyncpg.Connection, code: str | None, field: str) -> UUID | None:
    if code is None:
        return None
    collector = await collector_by_code(conn, code)
    if collector is None:
        raise ApiError(422, field, f"no collector with code {code!r}")
    return collector["id"]


@router.put("/clients/{code}/collector", response_model=CollectorChangeOut,
            summary="Change the client's collector, from the card or the contact block (F-5, F-24)")
async def change_collector(
    code: str, body: CollectorChangeIn, request: Request, principal: Principal = Depends(can_write)
) -> CollectorChangeOut:
    async with db_pool(request).acquire() as conn, conn.transaction():
        client = await client_or_404(conn, code, principal)
        collector_id = await _collector_id(conn, body.collector_code, "collector_code")
        result = await store.assign_collector(
            conn, [client["id"]], collector_id, actor=principal.actor, comment=body.comment, source="card"
        )
    return CollectorChangeOut(client_code=code, collector_code=body.collector_code, changed=result.changed == 1)


@router.post("/assignment/mass", response_model=AssignmentCounts,
             summary="Assign one collector to every client of a selection, in one transaction (F-5)")
async def mass_assign(
    body: MassAssignmentIn, request: Request, principal: Principal = Depends(can_write)
) -> AssignmentCounts:
    codes, criteria = parsed_codes(body.codes), body.criteria
    if body.saved_search_id is not None and (codes is not None or not criteria.is_empty()):
        raise ApiError(422, "saved_search_id", "give a saved search or codes/criteria, not both")
    if body.saved_search_id is None and codes is None and criteria.is_empty():
        # Never the whole client base by accident.
        raise ApiError(422, "criteria", "give client codes or at least one criterion")
    visibility = visibility_of(principal, body.mine)
    async with db_pool(request).acquire() as conn, conn.transaction():
        if body.saved_search_id is not None:
            saved = await search_store.search_of(conn, principal.user_id, body.saved_search_id)
            if saved is None:
                raise ApiError(404, "saved_search_id",
                               f"you have no saved search with id {body.saved_search_id}")
            codes, criteria = saved["codes"], ClientCriteria.model_validate(saved["criteria"])
        await check_collector_code(conn, criteria, "criteria.collector_code")
        collector_id = await _collector_id(conn, body.collector_code, "collector_code")
        client_ids = await search_store.selected_client_ids(
            conn, criteria, codes=codes, visibility=visibility
        )
        unknown = await search_store.unknown_codes(conn, codes, visibility) if codes else []
        result = await store.assign_collector(
            conn, client_ids, collector_id, actor=principal.actor, comment=body.comment, source="mass"
        )
    return AssignmentCounts(selected=result.selected, changed=result.changed,
                            unchanged=result.unchanged, unknown_codes=unknown)


# ---- automatic assignment (F-6) ---------------------------------------------------------


@router.get("/assignment/rules", response_model=list[RuleOut], summary="The ordered assignment rules (F-6)")
async def list_rules(request: Request, principal: Principal = Depends(can_read)) -> list[RuleOut]:
    async with db_pool(request).acquire() as conn:
        return [RuleOut(position=r["position"], criteria=RuleCriteria.model_validate(r["criteria"]),
                        collector_code=r["collector_code"]) for r in await store.list_rules(conn)]


@router.put("/assignment/rules", response_model=list[RuleOut],
            summary="Replace the ordered assignment rules (F-6); they apply to new clients")
async def replace_rules(
    body: RulesIn, request: Request, principal: Principal = Depends(managers)
) -> list[RuleOut]:
    async with db_pool(request).acquire() as conn, conn.transaction():
        rules = []
        for index, rule in enumerate(body.rules):
            if rule.criteria.is_empty():
                raise ApiError(422, f"rules.{index}.criteria",
                               "a rule needs at least one criterion (use the default collector for the rest)")
            rules.append((rule.criteria,
                          await _collector_id(conn, rule.collector_code, f"rules.{index}.collector_code")))
        await store.replace_rules(conn, rules, actor=principal.actor, comment=body.comment)
    return await list_rules(request, principal)


@router.get("/assignment/default-collector", response_model=DefaultCollectorOut,
            summary="The collector of new clients no rule matches (F-6)")
async def get_default(request: Request, principal: Principal = Depends(can_read)) -> DefaultCollectorOut:
    async with db_pool(request).acquire() as conn:
        collector = await store.default_collector(conn)
    return DefaultCollectorOut(collector_code=collector["code"] if collector else None)


@router.put("/assignment/default-collector", response_model=DefaultCollectorOut,
            summary="Set (or clear, with null) the default collector (F-6)")
async def set_default(
    body: DefaultCollectorIn, request: Request, principal: Principal = Depends(managers)
) -> DefaultCollectorOut:
    async with db_pool(request).acquire() as conn, conn.transaction():
        collector_id = await _collector_id(conn, body.collector_code, "collector_code")
        await store.set_default_collector(conn, collector_id, actor=principal.actor, comment=body.comment)
    return DefaultCollectorOut(collector_code=body.collector_code)


@router.post("/assignment/apply", response_model=AssignmentCounts,
             summary="Re-apply the rules and the default collector now (F-6)")
async def apply_rules(
    body: ApplyRulesIn, request: Request, principal: Principal = Depends(managers)
) -> AssignmentCounts:
    async with db_pool(request).acquire() as conn:
        result = await store.reapply_rules(
            conn, only_unassigned=body.only_unassigned, actor=principal.actor, comment=body.comment
        )
    return AssignmentCounts(selected=result.selected, changed=result.changed, unchanged=result.unchanged)
