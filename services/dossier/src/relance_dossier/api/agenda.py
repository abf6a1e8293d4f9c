"""Action management and the collectors' agenda (F-14, F-19, F-4, F-8): every action due
across open dossiers — interventions To do and pending specific actions — sortable and
filterable; a user linked to a collector sees that collector's agenda by default."""

from datetime import date, datetime
from typing import Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from relance.api.auth import Principal
from relance.api.errors import ApiError
from relance_dossier.api.auth import can_read, sees_collector
from relance_dossier.api.exports import export_response
from relance_dossier.domain.actions import sort_clause
from relance_dossier.domain.exports import AGENDA_COLUMNS, MEDIA_TYPES, ExportFormat, file_name
from relance_dossier.persistence import agenda as store
from relance_dossier.persistence.collectors import collector_by_code

router = APIRouter(tags=["actions and agenda"])

# A collector not linked to one sees nothing rather than everything.
NOBODY = UUID(int=0)


class ActionDue(BaseModel):
    id: UUID
    kind: Literal["intervention", "specific_action"]
    origin: str
    action_type: str
    mode: str
    priority: int
    due_at: datetime
    status: str
    comment: str | None
    label: str | None
    client_code: str
    client_name: str
    collector_code: str | None


SortKey = Literal["priority", "collector", "date", "client"]


async def _collector_id(conn: asyncpg.Connection, code: str | None) -> UUID | None:
    if code is None:
        return None
    row = await collector_by_code(conn, code)
    if row is None:
        raise ApiError(422, "collector", f"no collector with code {code!r}")
    return row["id"]


def _visible(principal: Principal, collector_id: UUID | None) -> list[UUID] | None:
    # F-4: a collector's lists show their own clients unless they name a collector they
    # may see (CLIENT_VISIBILITY); the others see every client.
    if principal.sees_all_clients:
        return None
    if collector_id is not None and sees_collector(principal, collector_id):
        return [collector_id]
    return [principal.collector_id or NOBODY]


async def _list(request: Request, principal: Principal, *, collector_id: UUID | None,
                client: str | None, action_type: str | None, due_before: datetime | None,
                kind: str | None, sort: str, desc: bool, limit: int, offset: int) -> list[ActionDue]:
    visible = _visible(principal, collector_id)
    async with request.app.state.pool.acquire() as conn:
        rows = await store.actions_due(
            conn, order_by=sort_clause(sort, desc), collector_id=collector_id,
            client_code=client, action_type=action_type, due_before=due_before, kind=kind,
            visible_to_collectors=visible, limit=limit, offset=offset,
        )
    return [ActionDue(**dict(r)) for r in rows]


@router.get("/actions", response_model=list[ActionDue],
            summary="F-14, F-19: every action due across open dossiers (interventions To do "
                    "and specific actions), sortable by priority, collector and date")
async def actions(
    request: Request,
    collector: str | None = Query(default=None, description="a collector's code"),
    client: str | None = Query(default=None, description="a client's code"),
    action_type: Literal["email", "letter", "sms", "call", "internal_task"] | None = None,
    due_before: datetime | None = Query(default=None, description="only actions due before"),
    kind: Literal["intervention", "specific_action"] | None = None,
    sort: SortKey = "date",
    desc: bool = False,
    limit: int = Query(default=200, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
    principal: Principal = Depends(can_read),
) -> list[ActionDue]:
    async with request.app.state.pool.acquire() as conn:
        collector_id = await _collector_id(conn, collector)
    return await _list(request, principal, collector_id=collector_id, client=client,
                       action_type=action_type, due_before=due_before, kind=kind, sort=sort,
                       desc=desc, limit=limit, offset=offset)


async def _agenda_collector(request: Request, principal: Principal, collector: str | None) -> UUID:
    async with request.app.state.pool.acquire() as conn:
        collector_id = await _collector_id(conn, collector)
    if collector_id is None:
        collector_id = principal.collector_id
    if collector_id is None:
        raise ApiError(422, "collector", "the user is not linked to a collector: give ?collector=")
    if not sees_collector(principal, collector_id):
        raise ApiError(404, "collector", f"no collector with code {collector!r}")
    return collector_id


@router.get("/agenda", response_model=list[ActionDue],
            summary="F-14, F-4: a collector's agenda; the caller's own collector by default")
async def agenda(
    request: Request,
    collector: str | None = Query(default=None, description="default: the caller's collector"),
    due_before: datetime | None = None,
    sort: SortKey = "date",
    desc: bool = False,
    limit: int = Query(default=200, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
    principal: Principal = Depends(can_read),
) -> list[ActionDue]:
    collector_id = await _agenda_collector(request, principal, collector)
    return await _list(request, principal, collector_id=collector_id, client=None,
                       action_type=None, due_before=due_before, kind=None, sort=sort,
                       desc=desc, limit=limit, offset=offset)


@router.get("/agenda/export", summary="F-40: a collector's whole agenda as CSV or XLSX",
            response_class=StreamingResponse,
            responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()}}})
async def agenda_export(
    request: Request,
    format: ExportFormat = Query(default=ExportFormat.CSV, description="csv or xlsx"),
    collector: str | None = Query(default=None, description="default: the caller's collector"),
    due_before: datetime | None = None,
    sort: SortKey = "date",
    desc: bool = False,
    principal: Principal = Depends(can_read),
) -> StreamingResponse:
    collector_id = await _agenda_collector(request, principal, collector)
    sql, args = store.actions_due_query(order_by=sort_clause(sort, desc), collector_id=collector_id,
                                        due_before=due_before,
                                        visible_to_collectors=_visible(principal, collector_id))
    return export_response(request.app.state.pool, sql, args, AGENDA_COLUMNS, format,
                           file_name(f"agenda-{collector or 'mine'}", date.today(), format), "Agenda")
