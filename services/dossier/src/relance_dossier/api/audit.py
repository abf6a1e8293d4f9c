"""The client's audit trail (F-33): who changed what, when, and why, newest first."""

from datetime import datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from relance.api.auth import Principal
from relance_dossier.api.auth import can_read, client_or_404
from relance_dossier.persistence import audit as store

router = APIRouter(prefix="/clients/{code}/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    comment: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None


@router.get("", response_model=AuditPage, summary="The client's audit trail, newest first (F-33)")
async def client_audit(
    code: str, request: Request,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    principal: Principal = Depends(can_read),
) -> AuditPage:
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as conn:
        client = await client_or_404(conn, code, principal)
        rows, total = await store.audit_page(conn, client["id"], limit=limit, offset=offset)
    following = offset + len(rows)
    return AuditPage(
        entries=[AuditEntryOut(**dict(r)) for r in rows], total=total, limit=limit, offset=offset,
        next_offset=following if following < total else None,
    )
