"""Client search (F-5): a filtered list, a search by criteria or by a pasted list of client
codes, saved searches per user ("my searches"), and the alert of clients with a
non-zero balance and no collector (F-7).

Scoping (F-4): a collector only ever finds the clients of their collector; a user linked
to a collector sees that collector's clients by default (`mine`), and may ask for all
when their role allows it."""

from datetime import datetime
from decimal import Decimal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, Field, ValidationError

from relance.api.auth import Principal, Role
from relance.api.errors import ApiError
from relance_dossier.api.auth import can_read, db_pool, require
from relance_dossier.api.models import ApiInput, CurrencyBalance
from relance_dossier.domain.assignment import ClientCriteria, parse_client_codes
from relance_dossier.persistence import collectors as collector_store
from relance_dossier.persistence import search as store
from relance_dossier.persistence.search import Visibility

router = APIRouter(tags=["search"])
# The alert's clients belong to no collector, so a collector has nothing to see there.
alert_readers = require(Role.ADMIN, Role.MANAGER, Role.READ_ONLY)

MAX_CODES = 50_000


class ClientSummary(BaseModel):
    code: str
    name: str
    country: str | None
    segment: str | None
    category: str | None
    tags: list[str]
    risk: str | None
    collector_code: str | None
    collector_name: str | None
    balance: Decimal = Field(description="Every open amount added: see `balances` (F-43)")
    balances: list[CurrencyBalance] = Field(default_factory=list,
                                            description="The open balance per currency (F-43)")


class SearchPage(BaseModel):
    total: int = Field(description="How many clients match, over all pages")
    limit: int
    offset: int
    clients: list[ClientSummary]
    unknown_codes: list[str] = Field(
        default_factory=list, description="Pasted codes that name no client you may see"
    )


class Selection(ApiInput):
    """Which clients: by criteria, by a pasted list of codes, or both (F-5)."""

    criteria: ClientCriteria = Field(default_factory=ClientCriteria)
    codes: str | list[str] | None = Field(
        default=None,
        description="Client codes as pasted from a spreadsheet: separated by new lines, "
        "tabs, commas, semicolons or spaces",
    )
    mine: bool | None = Field(
        default=None, description="Only the clients of your own collector (default when linked to one)"
    )


class SearchIn(Selection):
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class SavedSearchIn(ApiInput):
    name: str = Field(min_length=1, max_length=200)
    criteria: ClientCriteria = Field(default_factory=ClientCriteria)
    codes: str | list[str] | None = None


class SavedSearchOut(BaseModel):
    id: UUID
    name: str
    criteria: ClientCriteria
    codes: list[str] | None
    created_at: datetime


def visibility_of(principal: Principal, mine: bool | None) -> Visibility:
    """F-4: a user linked to a collector lists that collector's clients by default
    (`mine`); `mine=false` lists every client they may open (for a collector, what the
    visibility scope allows: their own, their team's or every client)."""
    own = [principal.collector_id] if principal.collector_id is not None else []
    if mine is None:
        mine = bool(own) or not principal.sees_all_clients
    if mine and (own or not principal.sees_all_clients):
        return Visibility(restricted=True, only_collector_ids=own)
    if principal.sees_all_clients or principal.also_sees is None:
        return Visibility(restricted=False)
    return Visibility(restricted=True, only_collector_ids=own + sorted(principal.also_sees))


def parsed_codes(codes: str | list[str] | None, field: str = "codes") -> list[str] | None:
    if codes is None:
        return None
    parsed = parse_client_codes(codes)
    if not parsed:
        raise ApiError(422, field, "no client code found in the pasted text")
    if len(parsed) > MAX_CODES:
        raise ApiError(422, field, f"at most {MAX_CODES} codes at once")
    return parsed


async def check_collector_code(conn: asyncpg.Connection, criteria: ClientCriteria, field: str) -> None:
    if criteria.collector_code is not None and await collector_store.collector_by_code(
        conn, criteria.collector_code
    ) is None:
        raise ApiError(422, field, f"no collector with code {criteria.collector_code!r}")


async def run_search(
    conn: asyncpg.Connection, principal: Principal, criteria: ClientCriteria,
    codes: list[str] | None, mine: bool | None, limit: int, offset: int,
) -> SearchPage:
    visibility = visibility_of(principal, mine)
    total, rows = await store.search_clients(
        conn, criteria, codes=codes, visibility=visibility, limit=limit, offset=offset
    )
    unknown = await store.unknown_codes(conn, codes, visibility) if codes else []
    return SearchPage(total=total, limit=limit, offset=offset,
                      clients=[ClientSummary(**dict(r)) for r in rows], unknown_codes=unknown)


_QUERY_NAMES = {"tags": "tag", "collector_code": "collector"}


@router.get("/clients", response_model=SearchPage, summary="Clients, filtered and paginated (F-5)")
async def list_clients(
    request: Request,
    country: str | None = None,
    segment: str | None = None,
    category: str | None = None,
    tag: list[str] = Query(default=[], description="Every tag given must be on the client"),
    risk: str | None = None,
    collector: str | None = Query(default=None, description="A collector code"),
    has_collector: bool | None = None,
    balance_nonzero: bool | None = None,
    mine: bool | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
    principal: Principal = Depends(can_read),
) -> SearchPage:
    try:
        criteria = ClientCriteria(country=country, segment=segment, category=category, tags=tag,
                                  risk=risk, collector_code=collector, has_collector=has_collector,
                                  balance_nonzero=balance_nonzero)
    except ValidationError as exc:
        # Named like the request validation errors: the query parameter at fault.
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        raise ApiError(422, _QUERY_NAMES.get(name, name) or None, error["msg"])
    async with db_pool(request).acquire() as conn:
        await check_collector_code(conn, criteria, "collector")
        return await run_search(conn, principal, criteria, None, mine, limit, offset)


@router.post("/clients/search", response_model=SearchPage,
             summary="Search by criteria and/or a pasted list of client codes (F-5)")
async def search(body: SearchIn, request: Request, principal: Principal = Depends(can_read)) -> SearchPage:
    codes = parsed_codes(body.codes)
    async with db_pool(request).acquire() as conn:
        await check_collector_code(conn, body.criteria, "criteria.collector_code")
        return await run_search(conn, principal, body.criteria, codes, body.mine, body.limit, body.offset)


# ---- my searches (F-5) ---------------------------------------------------------------------


@router.post("/searches", status_code=status.HTTP_201_CREATED, response_model=SavedSearchOut,
             summary="Save a search under a name, in your own searches (F-5)")
async def save_search(
    body: SavedSearchIn, request: Request, principal: Principal = Depends(can_read)
) -> SavedSearchOut:
    codes = parsed_codes(body.codes)
    async with db_pool(request).acquire() as conn:
        await check_collector_code(conn, body.criteria, "criteria.collector_code")
        try:
            row = await store.save_search(conn, user_id=principal.user_id, name=body.name,
                                          criteria=body.criteria, codes=codes)
        except store.SearchNameTaken:
            raise ApiError(409, "name", f"you already have a search named {body.name!r}")
    return SavedSearchOut(**dict(row))


@router.get("/searches", response_model=list[SavedSearchOut], summary="My saved searches (F-5)")
async def my_searches(request: Request, principal: Principal = Depends(can_read)) -> list[SavedSearchOut]:
    async with db_pool(request).acquire() as conn:
        return [SavedSearchOut(**dict(r)) for r in await store.searches_of(conn, principal.user_id)]


async def _saved_or_404(conn: asyncpg.Connection, principal: Principal, search_id: UUID) -> asyncpg.Record:
    row = await store.search_of(conn, principal.user_id, search_id)
    if row is None:
        raise ApiError(404, "search_id", f"you have no saved search with id {search_id}")
    return row


@router.get("/searches/{search_id}/results", response_model=SearchPage,
            summary="Re-run a saved search on today's data (F-5)")
async def rerun(
    search_id: UUID,
    request: Request,
    mine: bool | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
    principal: Principal = Depends(can_read),
) -> SearchPage:
    async with db_pool(request).acquire() as conn:
        saved = await _saved_or_404(conn, principal, search_id)
        criteria = ClientCriteria.model_validate(saved["criteria"])
        return await run_search(conn, principal, criteria, saved["codes"], mine, limit, offset)


@router.delete("/searches/{search_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete one of my saved searches")
async def delete_search(search_id: UUID, request: Request, principal: Principal = Depends(can_read)) -> None:
    async with db_pool(request).acquire() as conn:
        if not await store.delete_search(conn, principal.user_id, search_id):
            raise ApiError(404, "search_id", f"you have no saved search with id {search_id}")


# ---- alert (F-7) ----------------------------------------------------------------------------


class AlertPage(BaseModel):
    total: int
    limit: int
    offset: int
    clients: list[ClientSummary]


@router.get("/alerts/clients-without-collector", response_model=AlertPage,
            summary="F-7: clients with a non-zero balance and no collector")
async def clients_without_collector(
    request: Request,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
    principal: Principal = Depends(alert_readers),
) -> AlertPage:
    async with db_pool(request).acquire() as conn:
        total, rows = await store.clients_without_collector(conn, limit=limit, offset=offset)
    return AlertPage(total=total, limit=limit, offset=offset,
                     clients=[ClientSummary(**dict(r)) for r in rows])
