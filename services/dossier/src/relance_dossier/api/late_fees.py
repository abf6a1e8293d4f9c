"""Late fees and interest (F-38): computed on demand for a client on a day, added as fee
items on request, and the per-segment and per-client policies.

- `GET /clients/{code}/late-fees?on=YYYY-MM-DD`: per late invoice, the interest not yet
  charged and the recovery indemnity if never charged, and the totals per currency;
  every figure computed in SQL (`persistence.late_fees`) by the rule of
  `domain.late_fees`. Any reader of the client.
- `POST /clients/{code}/late-fees/charge`: adds those fees as items of kind 'fee' in the
  active dossier, idempotently (one indemnity per invoice ever; interest up to the day
  charged, never twice for the same days). Managers and admins: it changes what the
  client owes.
- `/late-fee-policies`: read by any user, written by admins (`admin_only`). A policy with
  `auto_charge` has its fees charged by the monthly late-fee run
  (`relance_dossier.activities.late_fees`)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, Field

from relance.api.auth import Principal, Role
from relance.api.errors import ApiError
from relance_dossier.api.auth import (
    active_dossier_or_409,
    admin_only,
    can_read,
    client_or_404,
    db_pool,
    require,
)
from relance_dossier.api.models import ApiInput
from relance_dossier.domain.late_fees import LateFeePolicy
from relance_dossier.persistence import late_fees as store
from relance_dossier.persistence.contacts import lock_client

router = APIRouter(tags=["late fees"])
can_charge = require(Role.ADMIN, Role.MANAGER)

Scope = Literal["segment", "client"]


class PolicyOut(BaseModel):
    enabled: bool
    interest_rate: Decimal = Field(description="annual rate: 0.1215 is 12.15 %")
    indemnity_amount: Decimal
    indemnity_currencies: list[str]
    auto_charge: bool = Field(description="charged by the monthly late-fee run")
    source: Literal["client", "segment", "default"] = Field(
        description="whose policy applies: the client's, its segment's or the defaults")


class LateFeeItemOut(BaseModel):
    item_id: str
    number: str
    currency: str
    due_date: date
    open_amount: Decimal
    days_late: int
    interest_from: date = Field(description="interest runs on the days after this one")
    interest_days: int
    interest: Decimal
    indemnity: Decimal
    indemnity_charged: bool


class LateFeeTotalOut(BaseModel):
    currency: str
    late_invoices: int
    interest: Decimal
    indemnity: Decimal
    total: Decimal


class LateFeesOut(BaseModel):
    client_code: str
    on: date
    policy: PolicyOut
    items: list[LateFeeItemOut]
    totals: list[LateFeeTotalOut] = Field(description="per currency, never added together")


class ChargeIn(ApiInput):
    on: date | None = Field(default=None, description="the day charged up to; today if absent")
    comment: str | None = Field(default=None, max_length=2000)


class ChargedFeeOut(BaseModel):
    item_id: str
    number: str
    invoice_number: str
    kind: Literal["indemnity", "interest"]
    interest_from: date | None
    interest_to: date | None
    amount: Decimal
    currency: str


class ChargeOut(BaseModel):
    client_code: str
    on: date
    charged: list[ChargedFeeOut] = Field(description="empty when everything was charged already")


# Days outside these years are refused (422 naming `on`): no late fee is computed for
# the year 1 or 9999.
EARLIEST, LATEST = date(2000, 1, 1), date(2199, 12, 31)


def _check_day(on: date) -> date:
    if not EARLIEST <= on <= LATEST:
        raise ApiError(422, "on", f"a day between {EARLIEST} and {LATEST}")
    return on


def _defaults(request: Request) -> LateFeePolicy:
    return store.defaults_from(request.app.state.settings)


async def _today(conn, request: Request) -> date:
    return await conn.fetchval(
        "SELECT (now() AT TIME ZONE $1)::date", request.app.state.settings.business_timezone)


async def _figures(conn, client, on: date, defaults: LateFeePolicy) -> LateFeesOut:
    policy = await store.policy_of(conn, client["id"], defaults)
    return LateFeesOut(
        client_code=client["code"], on=on,
        policy=PolicyOut(**dict(policy), indemnity_currencies=list(defaults.indemnity_currencies)),
        items=[LateFeeItemOut(**{**dict(r), "item_id": str(r["item_id"])})
               for r in await store.late_fee_items(conn, client["id"], on, defaults)],
        totals=[LateFeeTotalOut(**dict(r))
                for r in await store.late_fee_totals(conn, client["id"], on, defaults)],
    )


@router.get("/clients/{code}/late-fees", response_model=LateFeesOut,
            summary="The late-payment interest and recovery indemnities a client owes on a day,"
                    " per invoice and per currency (F-38)")
async def late_fees(
    code: str, request: Request,
    on: date | None = Query(default=None, description="the day (YYYY-MM-DD); today if absent"),
    principal: Principal = Depends(can_read),
) -> LateFeesOut:
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        day = _check_day(on or await _today(conn, request))
        return await _figures(conn, client, day, _defaults(request))


@router.post("/clients/{code}/late-fees/charge", response_model=ChargeOut,
             summary="Add the fees owed up to a day as items of kind 'fee' (F-38): one "
                     "indemnity per invoice ever, interest never twice for the same days")
async def charge_late_fees(code: str, body: ChargeIn, request: Request,
                           principal: Principal = Depends(can_charge)) -> ChargeOut:
    async with db_pool(request).acquire() as conn, conn.transaction():
        client = await client_or_404(conn, code, principal)
        today = await _today(conn, request)
        on = _check_day(body.on or today)
        if on > today:
            raise ApiError(422, "on", "fees can be charged up to today, not in the future")
        dossier_id = await active_dossier_or_409(conn, client)
        await lock_client(conn, client["id"])  # two charges at once never both charge a day
        try:
            rows = await store.charge(conn, client_id=client["id"], dossier_id=dossier_id, on=on,
                                      defaults=_defaults(request), actor=principal.actor,
                                      comment=body.comment)
        except asyncpg.NumericValueOutOfRangeError:
            raise ApiError(422, "on", "the fees are too large to be an item's amount") from None
    return ChargeOut(client_code=code, on=on, charged=[
        ChargedFeeOut(item_id=str(r["item_id"]), number=r["fee_number"],
                      invoice_number=r["invoice_number"], kind=r["kind"],
                      interest_from=r["interest_from"], interest_to=r["interest_to"],
                      amount=r["amount"], currency=r["currency"])
        for r in rows
    ])


# ---- policies -----------------------------------------------------------------------------


class PolicyIn(ApiInput):
    enabled: bool = True
    interest_rate: Decimal | None = Field(default=None, ge=0, le=1, max_digits=9, decimal_places=6,
                                          description="annual; null inherits")
    indemnity_amount: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=2,
                                             description="null inherits")
    auto_charge: bool | None = Field(
        default=None, description="the monthly late-fee run charges the fees owed by itself;"
                                  " null inherits")


class PolicyRowOut(BaseModel):
    scope: Scope
    scope_key: str
    enabled: bool
    interest_rate: Decimal | None
    indemnity_amount: Decimal | None
    auto_charge: bool | None
    updated_by: str | None
    updated_at: datetime


class PoliciesOut(BaseModel):
    defaults: PolicyOut
    run_day: int = Field(description="the day of the month the late-fee run charges, at the"
                                     " business hour, the clients whose policy has auto_charge")
    policies: list[PolicyRowOut]


@router.get("/late-fee-policies", response_model=PoliciesOut,
            summary="The default late-fee rule and the segments' and clients' policies (F-38)")
async def list_policies(request: Request, principal: Principal = Depends(can_read)) -> PoliciesOut:
    defaults = _defaults(request)
    async with db_pool(request).acquire() as conn:
        rows = await store.policies(conn)
    return PoliciesOut(
        defaults=PolicyOut(enabled=defaults.enabled, interest_rate=defaults.interest_rate,
                           indemnity_amount=defaults.indemnity_amount,
                           indemnity_currencies=list(defaults.indemnity_currencies),
                           auto_charge=defaults.auto_charge, source="default"),
        run_day=request.app.state.settings.late_fee_run_day,
        policies=[PolicyRowOut(**dict(r)) for r in rows],
    )


async def _check_scope_key(conn, scope: str, key: str) -> None:
    if not key.strip() or len(key) > 100 or "\x00" in key:
        raise ApiError(422, "key", "a segment or client code of 1 to 100 characters")
    if scope == "client" and not await conn.fetchval(
            "SELECT true FROM clients WHERE code = $1", key):
        raise ApiError(404, "key", f"no client with code {key!r}")


@router.put("/late-fee-policies/{scope}/{key}", response_model=PolicyRowOut,
            summary="Set a segment's or a client's late-fee policy (F-38); admins only")
async def put_policy(scope: Scope, key: str, body: PolicyIn, request: Request,
                     principal: Principal = Depends(admin_only)) -> PolicyRowOut:
    async with db_pool(request).acquire() as conn, conn.transaction():
        await _check_scope_key(conn, scope, key)
        row = await store.put_policy(conn, scope=scope, key=key, enabled=body.enabled,
                                     interest_rate=body.interest_rate,
                                     indemnity_amount=body.indemnity_amount,
                                     auto_charge=body.auto_charge, actor=principal.actor)
    return PolicyRowOut(**dict(row))


@router.delete("/late-fee-policies/{scope}/{key}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Remove a policy: the segment's or the defaults apply again (F-38)")
async def delete_policy(scope: Scope, key: str, request: Request,
                        principal: Principal = Depends(admin_only)) -> Response:
    if "\x00" in key:
        raise ApiError(404, "key", f"no {scope} policy for {key!r}")
    async with db_pool(request).acquire() as conn, conn.transaction():
        if not await store.delete_policy(conn, scope, key, principal.actor):
            raise ApiError(404, "key", f"no {scope} policy for {key!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
