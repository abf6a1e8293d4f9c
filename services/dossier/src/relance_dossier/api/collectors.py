"""Collectors (F-4): create, list, read, edit, delete; and each collector's agenda feed
of pending actions, which follows the client when it is reassigned (F-8)."""

from datetime import datetime
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, Field

from relance.api.auth import Principal, Role
from relance.api.errors import ApiError
from relance.validation import CODE_MAX_LENGTH, CODE_PATTERN, EmailAddress
from relance_dossier.api.auth import can_read, db_pool, require, sees_collector
from relance_dossier.api.models import ApiInput, InterventionOut
from relance_dossier.persistence import collectors as store
from relance_dossier.persistence.clients import record_audit

router = APIRouter(prefix="/collectors", tags=["collectors"])

managers = require(Role.ADMIN, Role.MANAGER)


TEAM_DOC = ("The collector's team: with CLIENT_VISIBILITY=team a collector opens the clients of "
            "their team's collectors (F-4)")


class CollectorIn(ApiInput):
    code: str = Field(min_length=1, max_length=CODE_MAX_LENGTH, pattern=CODE_PATTERN,
                      description="The collector's key, as the ERP import names it")
    name: str = Field(min_length=1, max_length=200)
    email: EmailAddress | None = None
    team: str | None = Field(default=None, min_length=1, max_length=100, description=TEAM_DOC)


class CollectorPatch(ApiInput):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailAddress | None = Field(default=None, description="null removes the address")
    team: str | None = Field(default=None, min_length=1, max_length=100,
                             description=TEAM_DOC + "; null takes the collector out of any team")


class CollectorOut(BaseModel):
    id: UUID
    code: str
    name: str
    email: str | None
    team: str | None = None
    created_at: datetime
    client_count: int = 0


class AgendaEntry(InterventionOut):
    client_code: str
    client_name: str


async def _collector_or_404(conn: asyncpg.Connection, code: str) -> asyncpg.Record:
    collector = await store.collector_by_code(conn, code)
    if collector is None:
        raise ApiError(404, "code", f"no collector with code {code!r}")
    return collector


def _audit(conn, principal: Principal, action: str, code: str, details: dict | None = None):
    return record_audit(conn, client_id=None, actor=principal.actor, action=action,
                        entity="collector", entity_id=code, details=details)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CollectorOut,
             summary="Create a collector (F-4)")
async def create(body: CollectorIn, request: Request, principal: Principal = Depends(managers)) -> CollectorOut:
    async with db_pool(request).acquire() as conn, conn.transaction():
        try:
            row = await store.create_collector(conn, code=body.code, name=body.name, email=body.email,
                                               team=body.team)
        except store.CollectorCodeTaken:
            raise ApiError(409, "code", f"a collector with code {body.code!r} already exists")
        await _audit(conn, principal, "create", body.code)
    return CollectorOut(**dict(row))


@router.get("", response_model=list[CollectorOut], summary="Every collector, with its number of clients")
async def list_collectors(request: Request, principal: Principal = Depends(can_read)) -> list[CollectorOut]:
    async with db_pool(request).acquire() as conn:
        return [CollectorOut(**dict(r)) for r in await store.list_collectors(conn)]


@router.get("/{code}", response_model=CollectorOut, summary="One collector")
async def get(code: str, request: Request, principal: Principal = Depends(can_read)) -> CollectorOut:
    async with db_pool(request).acquire() as conn:
        return CollectorOut(**dict(await _collector_or_404(conn, code)))


@router.patch("/{code}", response_model=CollectorOut, summary="Change a collector's name, email or team")
async def update(
    code: str, body: CollectorPatch, request: Request, principal: Principal = Depends(managers)
) -> CollectorOut:
    if "name" in body.model_fields_set and body.name is None:
        raise ApiError(422, "name", "a collector must keep a name")
    async with db_pool(request).acquire() as conn, conn.transaction():
        collector = await _collector_or_404(conn, code)
        row = await store.update_collector(
            conn, collector["id"], name=body.name, email=body.email,
            clear_email="email" in body.model_fields_set and body.email is None,
            team=body.team, clear_team="team" in body.model_fields_set and body.team is None,
        )
        await _audit(conn, principal, "update", code, body.model_dump(exclude_unset=True))
    return CollectorOut(**dict(row))


@router.delete("/{code}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a collector that no client, active user or rule points at")
async def delete(code: str, request: Request, principal: Principal = Depends(managers)) -> None:
    async with db_pool(request).acquire() as conn, conn.transaction():
        collector = await _collector_or_404(conn, code)
        usage = await store.collector_usage(conn, collector["id"])
        if usage:
            still = ", ".join(f"{what}: {count}" for what, count in usage.items())
            raise ApiError(409, "code", f"collector {code!r} is still in use ({still}); reassign first")
        await store.delete_collector(conn, collector["id"])
        await _audit(conn, principal, "delete", code)


@router.get("/{code}/agenda", response_model=list[AgendaEntry],
            summary="F-8: pending actions of the clients currently assigned to the collector")
async def agenda(
    code: str,
    request: Request,
    limit: int = Query(default=200, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
    principal: Principal = Depends(can_read),
) -> list[AgendaEntry]:
    async with db_pool(request).acquire() as conn:
        collector = await store.collector_by_code(conn, code)
        # A collector reads only their own agenda; another one answers like an unknown code.
        if collector is None or not sees_collector(principal, collector["id"]):
            raise ApiError(404, "code", f"no collector with code {code!r}")
        rows = await store.pending_interventions_of_collector(
            conn, collector["id"], limit=limit, offset=offset
        )
    return [AgendaEntry(**dict(r)) for r in rows]
