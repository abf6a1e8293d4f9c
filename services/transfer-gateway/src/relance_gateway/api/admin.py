"""The agencies registry and webhook delivery status, for Relance admins (F-31, F-34).

Admins authenticate with the same bearer API tokens as the dossier API, checked by the
dossier service (`relance_gateway.api.admins`)."""

from typing import Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from relance.api.auth import Principal
from relance.api.errors import ApiError
from relance.audit import record_audit
from relance_gateway.api.admins import admin_only, current_user
from relance_gateway.api.models import (
    AdminPlacement,
    Agency,
    AgencyCreate,
    AgencyCreated,
    AgencyCredentials,
    AgencyUpdate,
    Delivery,
)
from relance_gateway.domain.credentials import new_api_key, new_signing_secret
from relance_gateway.domain.webhook_urls import url_problem
from relance_gateway.persistence import agencies, deliveries, placements

router = APIRouter(prefix="/admin", tags=["admin"])


async def _agency_out(conn: asyncpg.Connection, row: asyncpg.Record) -> Agency:
    return Agency(
        code=row["code"], name=row["name"], webhook_url=row["webhook_url"], active=row["active"],
        active_secrets=await agencies.active_secret_count(conn, row["id"]),
        created_at=row["created_at"], updated_at=row["updated_at"],
    )


async def _audit(conn: asyncpg.Connection, principal: Principal, action: str, code: str,
                 details: dict | None = None) -> None:
    """F-33: who changed an agency's registration or credentials (never the secrets)."""
    await record_audit(conn, client_id=None, actor=principal.actor, action=action,
                       entity="agency", entity_id=code, details=details)


async def _existing(conn: asyncpg.Connection, code: str) -> asyncpg.Record:
    row = await agencies.get_agency(conn, code)
    if row is None:
        raise ApiError(404, "code", f"no agency {code}")
    return row


def _check_webhook_url(request: Request, url: str | None) -> None:
    """F-31: https and a public address (see domain.webhook_urls); 422 otherwise."""
    allow_insecure = request.app.state.settings.webhook_allow_insecure_urls
    if url is not None and (problem := url_problem(url, allow_insecure=allow_insecure)):
        raise ApiError(422, "webhook_url", problem)


@router.post("/agencies", status_code=201, response_model=AgencyCreated,
             summary="Register an agency; its API key and first signing secret are shown once")
async def create_agency(
    body: AgencyCreate, request: Request, principal: Principal = Depends(admin_only)
) -> AgencyCreated:
    _check_webhook_url(request, str(body.webhook_url) if body.webhook_url else None)
    api_key, secret = new_api_key(), new_signing_secret()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await agencies.create_agency(
            conn, code=body.code, name=body.name,
            webhook_url=str(body.webhook_url) if body.webhook_url else None,
            active=body.active, api_key=api_key, secret=secret, box=request.app.state.secret_box,
        )
        if row is None:
            raise ApiError(409, "code", f"agency {body.code} already exists")
        agency = await _agency_out(conn, row)
        await _audit(conn, principal, "agency.created", body.code,
                     {"name": body.name, "webhook_url": agency.webhook_url, "active": body.active})
    return AgencyCreated(**agency.model_dump(),
                         credentials=AgencyCredentials(api_key=api_key, signing_secret=secret))


class AgencyChoice(BaseModel):
    code: str
    name: str


# Outside /admin: every signed-in user chooses an agency when transferring (F-27).
choices = APIRouter(tags=["admin"])


@choices.get("/agencies", response_model=list[AgencyChoice],
             summary="The active agencies a transfer can go to (code and name only, F-27)")
async def agency_choices(request: Request, principal: Principal = Depends(current_user)) -> list[AgencyChoice]:
    async with request.app.state.pool.acquire() as conn:
        return [AgencyChoice(code=r["code"], name=r["name"]) for r in await agencies.list_agencies(conn)
                if r["active"]]


@router.get("/agencies", response_model=list[Agency], summary="Registered agencies")
async def list_agencies(request: Request, principal: Principal = Depends(admin_only)) -> list[Agency]:
    async with request.app.state.pool.acquire() as conn:
        return [await _agency_out(conn, r) for r in await agencies.list_agencies(conn)]


@router.get("/agencies/{code}", response_model=Agency, summary="One agency")
async def get_agency(code: str, request: Request, principal: Principal = Depends(admin_only)) -> Agency:
    async with request.app.state.pool.acquire() as conn:
        return await _agency_out(conn, await _existing(conn, code))


@router.patch("/agencies/{code}", response_model=Agency,
              summary="Change name, webhook URL (null: pull-only) or active flag")
async def update_agency(
    code: str, body: AgencyUpdate, request: Request, principal: Principal = Depends(admin_only)
) -> Agency:
    changes = body.model_dump(exclude_unset=True)
    if "webhook_url" in changes and changes["webhook_url"] is not None:
        changes["webhook_url"] = str(changes["webhook_url"])
        _check_webhook_url(request, changes["webhook_url"])
    for field in ("name", "active"):
        if field in changes and changes[field] is None:
            raise ApiError(422, field, "may not be null")
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        await _existing(conn, code)
        row = await agencies.update_agency(conn, code, changes)
        await _audit(conn, principal, "agency.updated", code, changes)
        return await _agency_out(conn, row)


@router.post("/agencies/{code}/secrets", response_model=AgencyCredentials, status_code=201,
             summary="Rotate the signing secret: the new one and the previous one both verify")
async def rotate_secret(
    code: str, request: Request, principal: Principal = Depends(admin_only)
) -> AgencyCredentials:
    secret = new_signing_secret()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await _existing(conn, code)
        await agencies.add_secret(conn, row["id"], secret, request.app.state.secret_box)
        await _audit(conn, principal, "agency.secret_rotated", code)
    return AgencyCredentials(signing_secret=secret)


@router.post("/agencies/{code}/api-key", response_model=AgencyCredentials, status_code=201,
             summary="Issue a new API key; the previous key stops working at once")
async def rotate_api_key(
    code: str, request: Request, principal: Principal = Depends(admin_only)
) -> AgencyCredentials:
    api_key = new_api_key()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await _existing(conn, code)
        await agencies.replace_api_key(conn, row["id"], api_key)
        await _audit(conn, principal, "agency.api_key_rotated", code)
    return AgencyCredentials(api_key=api_key)


@router.get("/placements", response_model=list[AdminPlacement],
            summary="Placements with agencies, newest first (open transfers by state)")
async def list_placements(
    request: Request,
    agency_code: str | None = None,
    status: Literal["placed", "cancellation_requested", "cancelled"] | None = None,
    limit: int = 100,
    principal: Principal = Depends(admin_only),
) -> list[AdminPlacement]:
    if not 1 <= limit <= 1000:
        raise ApiError(422, "limit", "must be between 1 and 1000")
    async with request.app.state.pool.acquire() as conn:
        rows = await placements.list_all_placements(conn, agency_code, status, limit)
    return [AdminPlacement(**{k: r[k] for k in AdminPlacement.model_fields}) for r in rows]


@router.get("/deliveries", response_model=list[Delivery], summary="Webhook deliveries, newest first")
async def list_deliveries(
    request: Request,
    status: Literal["pending", "delivered", "dead"] | None = None,
    agency_code: str | None = None,
    limit: int = 100,
    principal: Principal = Depends(admin_only),
) -> list[Delivery]:
    if not 1 <= limit <= 1000:
        raise ApiError(422, "limit", "must be between 1 and 1000")
    async with request.app.state.pool.acquire() as conn:
        rows = await deliveries.list_deliveries(conn, status=status, agency_code=agency_code, limit=limit)
    return [Delivery(**dict(r)) for r in rows]


@router.get("/dead-letters", response_model=list[Delivery],
            summary="Deliveries that failed every attempt")
async def list_dead_letters(
    request: Request, agency_code: str | None = None, limit: int = 100,
    principal: Principal = Depends(admin_only),
) -> list[Delivery]:
    return await list_deliveries(request, "dead", agency_code, limit, principal)


@router.post("/dead-letters/{delivery_id}/replay", response_model=Delivery,
             summary="Send a dead letter again, with a fresh attempt budget")
async def replay_dead_letter(
    delivery_id: UUID, request: Request, principal: Principal = Depends(admin_only)
) -> Delivery:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await deliveries.replay_dead(conn, delivery_id)
        if row is None:
            exists = await deliveries.get_delivery(conn, delivery_id)
            if exists is None:
                raise ApiError(404, "delivery_id", "no such delivery")
            raise ApiError(409, "delivery_id", f"the delivery is {exists['status']}, not dead")
        await _audit(conn, principal, "agency.dead_letter_replayed", row["agency_code"],
                     {"delivery_id": str(delivery_id), "message_id": str(row["message_id"])})
    request.app.state.dispatcher.wake()
    return Delivery(**dict(row))
