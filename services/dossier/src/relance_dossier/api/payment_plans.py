"""Payment plans and temporary holds (F-37): a collector agrees instalments with a client
on some of its open items (their workflow watches each instalment at its date), or stops
all of a client's dunning until a date."""

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Request, status
from pydantic import BaseModel, Field

from relance.api.auth import Principal
from relance.api.errors import ApiError
from relance_dossier.api.auth import (
    active_dossier_or_409,
    can_read,
    can_write,
    client_or_404,
    db_pool,
    visible_or_404,
)
from relance_dossier.api.models import ApiInput
from relance_dossier.domain.payment_plans import (
    Instalment,
    check_hold,
    check_instalments,
    check_plan_items,
)
from relance_dossier.persistence import payment_plans as store
from relance_dossier.settings import Settings

router = APIRouter(tags=["payment plans"])


class InstalmentIn(ApiInput):
    due_date: date
    amount: Decimal = Field(max_digits=18, decimal_places=2)


class PaymentPlanIn(ApiInput):
    item_ids: list[UUID] = Field(min_length=1, max_length=1000,
                                 description="open invoices of the client's active dossier")
    instalments: list[InstalmentIn] = Field(
        min_length=1, max_length=120,
        description="strictly increasing dates, not in the past; amounts add up to the"
                    " open amount of the items")
    comment: str | None = Field(default=None, max_length=2000)


class InstalmentOut(BaseModel):
    seq: int
    due_date: date
    amount: Decimal
    state: str  # pending | paid | missed


class PaymentPlanOut(BaseModel):
    id: UUID
    client_code: str
    state: str  # active | completed | broken | cancelled
    currency: str
    total_amount: Decimal
    paid_amount: Decimal  # paid on the plan's items since it was agreed
    comment: str | None
    created_by: str
    created_at: datetime
    ended_at: datetime | None
    end_comment: str | None
    follow_up_id: UUID | None  # the collector's call when the plan broke
    item_ids: list[UUID]
    item_numbers: list[str]
    instalments: list[InstalmentOut]


class CancelIn(ApiInput):
    comment: str | None = Field(default=None, max_length=2000)


class HoldIn(ApiInput):
    until: date = Field(description="the day dunning resumes; steps due before it wait for it")
    reason: str = Field(min_length=1, max_length=2000)


class HoldOut(BaseModel):
    client_code: str
    hold_until: date | None
    hold_reason: str | None


def _out(row) -> PaymentPlanOut:
    return PaymentPlanOut(**dict(row))


def _today(request: Request) -> date:
    """Today in the business time zone, where instalment dates are judged."""
    settings: Settings = request.app.state.settings
    return datetime.now(ZoneInfo(settings.business_timezone)).date()


def _request_hash(body: PaymentPlanIn) -> str:
    return hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


@router.post("/clients/{code}/payment-plans", status_code=status.HTTP_201_CREATED,
             response_model=PaymentPlanOut,
             summary="F-37: agree instalments with the client on some open items; they leave "
                     "the scenario while the plan holds, and each instalment is watched at its "
                     "date. Idempotency-Key: the same key and body answer the same plan")
async def create_plan(code: str, body: PaymentPlanIn, request: Request,
                      principal: Principal = Depends(can_write),
                      idempotency_key: str | None = Header(default=None, max_length=200)):
    item_ids = list(dict.fromkeys(body.item_ids))
    instalments = [Instalment(due_date=i.due_date, amount=i.amount) for i in body.instalments]
    request_hash = _request_hash(body)
    async with db_pool(request).acquire() as conn, conn.transaction():
        client = await client_or_404(conn, code, principal)
        if idempotency_key is not None:
            earlier = await store.plan_by_idempotency_key(conn, client["id"], idempotency_key)
            if earlier is not None:
                if earlier["request_hash"] != request_hash:
                    raise ApiError(422, "Idempotency-Key",
                                   "this key was used for another payment plan request")
                return _out(await store.plan(conn, earlier["id"]))
        dossier_id = await active_dossier_or_409(conn, client)
        items, missing = await store.plan_items(conn, client["id"], dossier_id, item_ids)
        if missing:
            raise ApiError(422, "item_ids", f"not items of the client: {', '.join(missing)}")
        currency, covered = check_plan_items(items)
        check_instalments(instalments, covered, currency, _today(request))
        plan_id = uuid4()
        await store.create_plan(
            conn, plan_id=plan_id, client=client, dossier_id=dossier_id, item_ids=item_ids,
            instalments=instalments, currency=currency, total=covered, comment=body.comment,
            actor=principal.actor, idempotency_key=idempotency_key, request_hash=request_hash)
        return _out(await store.plan(conn, plan_id))


@router.get("/clients/{code}/payment-plans", response_model=list[PaymentPlanOut],
            summary="F-37: the client's payment plans, newest first, with their instalments")
async def client_plans(code: str, request: Request, principal: Principal = Depends(can_read)):
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        return [_out(p) for p in await store.plans_of_client(conn, client["id"])]


async def _visible_plan(conn, plan_id: UUID, principal: Principal):
    row = await store.plan(conn, plan_id)
    return await visible_or_404(conn, row, principal, "plan_id", f"no payment plan {plan_id}")


@router.get("/payment-plans/{plan_id}", response_model=PaymentPlanOut)
async def get_plan(plan_id: UUID, request: Request, principal: Principal = Depends(can_read)):
    async with db_pool(request).acquire() as conn:
        return _out(await _visible_plan(conn, plan_id, principal))


@router.post("/payment-plans/{plan_id}/cancel", response_model=PaymentPlanOut,
             summary="F-37: end an active plan now; its items are back in the scenario")
async def cancel_plan(plan_id: UUID, request: Request, body: CancelIn | None = None,
                      principal: Principal = Depends(can_write)):
    async with db_pool(request).acquire() as conn, conn.transaction():
        await _visible_plan(conn, plan_id, principal)
        before = await store.cancel_plan(conn, plan_id=plan_id,
                                         comment=body.comment if body else None,
                                         actor=principal.actor)
        if before != "active":
            raise ApiError(409, "state", f"the payment plan is already {before}")
        return _out(await store.plan(conn, plan_id))


@router.post("/clients/{code}/hold", response_model=HoldOut,
             summary="F-37: stop all of the client's dunning until a date; scenario steps "
                     "due meanwhile are postponed to that date")
async def set_hold(code: str, body: HoldIn, request: Request,
                   principal: Principal = Depends(can_write)):
    check_hold(body.until, _today(request))
    async with db_pool(request).acquire() as conn, conn.transaction():
        client = await client_or_404(conn, code, principal)
        dossier_id = await active_dossier_or_409(conn, client)
        await store.set_hold(conn, client_id=client["id"], dossier_id=dossier_id,
                             until=body.until, reason=body.reason, actor=principal.actor)
    return HoldOut(client_code=code, hold_until=body.until, hold_reason=body.reason)


@router.delete("/clients/{code}/hold", response_model=HoldOut,
               summary="F-37: lift the client's hold now; the scenario resumes")
async def lift_hold(code: str, request: Request, principal: Principal = Depends(can_write)):
    async with db_pool(request).acquire() as conn, conn.transaction():
        client = await client_or_404(conn, code, principal)
        if client["hold_until"] is None:
            raise ApiError(409, "hold", "the client's dunning is not on hold")
        dossier_id = await active_dossier_or_409(conn, client)
        await store.set_hold(conn, client_id=client["id"], dossier_id=dossier_id,
                             until=None, reason=None, actor=principal.actor)
    return HoldOut(client_code=code, hold_until=None, hold_reason=None)
