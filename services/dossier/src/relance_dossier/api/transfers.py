"""Transfers to collection agencies (F-27 … F-30): create one from the active dossier,
read them, and cancel one. Whether a cancellation is immediate (F-28) or a request to the
agency (F-29) is decided by the transfer workflow alone, through a Temporal Update, so the
answer and the 24-hour timer are ordered in one history (F-30)."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, Field, field_validator

from relance.api.auth import Principal
from relance.api.errors import ApiError
from relance.contracts import transfer as contract
from relance.contracts.transfer import (
    CancelTransfer,
    TransferWorkflowInput,
    start_search_attributes,
)
from relance.validation import CODE_MAX_LENGTH, CODE_PATTERN
from relance.workflow_ids import transfer_workflow_id
from relance_dossier.agency_registry import GatewayUnavailable
from relance_dossier.api.auth import can_read, can_write, client_or_404, db_pool, visible_or_404
from relance_dossier.api.models import ApiInput
from relance_dossier.api.workflow_calls import execute_update_with_start
from relance_dossier.domain.transfers import RegisteredAgency, check_follow_up_date
from relance_dossier.persistence import transfers as store

router = APIRouter(tags=["transfers"])


class TransferIn(ApiInput):
    item_ids: list[UUID] = Field(min_length=1, max_length=10_000,
                                 description="Open items of the client's active dossier")
    agency_code: str = Field(min_length=1, max_length=CODE_MAX_LENGTH, pattern=CODE_PATTERN)
    next_follow_up_date: date
    opening_comment: str = Field(min_length=1, max_length=5000)

    @field_validator("opening_comment")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an opening comment is required")
        return value.strip()

    model_config = {"json_schema_extra": {"examples": [{
        "item_ids": ["7d0c8a5e-3f41-4a53-9a0a-0b8f1f5d2c11"], "agency_code": "RECOUVEO",
        "next_follow_up_date": "2026-12-15", "opening_comment": "No answer to three reminders",
    }]}}


class CancelIn(ApiInput):
    comment: str = Field(min_length=1, max_length=5000)

    @field_validator("comment")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a comment is required to cancel a transfer")
        return value.strip()


class CancelOut(BaseModel):
    mode: Literal["immediate", "request"]
    state: str


class TransferItemOut(BaseModel):
    id: UUID
    number: str
    kind: str
    due_date: date
    amount: Decimal
    open_amount: Decimal
    currency: str
    in_transfer: bool  # False once it went back to the active dossier


class TransferActionOut(BaseModel):
    """One line of the transfer's action detail: who did what, when, with which comment."""

    actor: str
    action: str
    comment: str | None
    at: datetime


class TransferOut(BaseModel):
    id: UUID
    client_id: UUID
    agency_code: str
    # in_window | placed | placed_acknowledged | cancellation_pending (shown struck through
    # in red, F-29) | closed
    state: str
    cancellation_pending: bool
    created_by: str
    created_at: datetime
    window_ends_at: datetime | None
    next_follow_up_date: date
    opening_comment: str
    placed_at: datetime | None
    acknowledged_at: datetime | None
    agency_reference: str | None
    agency_status: str | None
    cancellation_mode: str | None
    cancellation_comment: str | None
    cancellation_requested_by: str | None
    cancellation_requested_at: datetime | None
    refusal_reason: str | None
    agency_answer_overdue: bool
    closing_comment: str | None
    closed_at: datetime | None


class TransferDetail(TransferOut):
    client_code: str
    items: list[TransferItemOut]
    actions: list[TransferActionOut]


def _out(row: asyncpg.Record) -> dict:
    data = dict(row)
    data["cancellation_pending"] = row["state"] == "cancellation_pending"
    return data


async def _transfer_or_404(
    conn: asyncpg.Connection, transfer_id: UUID, principal: Principal
) -> asyncpg.Record:
    transfer = await store.transfer_by_id(conn, transfer_id)
    return await visible_or_404(conn, transfer, principal, "transfer_id", f"no transfer {transfer_id}")


async def _detail(conn: asyncpg.Connection, transfer: asyncpg.Record) -> TransferDetail:
    return TransferDetail(
        **_out(transfer),
        items=[TransferItemOut(**dict(i)) for i in await store.items_of_transfer(conn, transfer)],
        actions=[TransferActionOut(**dict(a))
                 for a in await store.history_of_transfer(conn, transfer["id"])],
    )


async def _registered_agency(request: Request, agency_code: str) -> RegisteredAgency | None:
    """F-31: the transfer gateway owns the agencies registry; it is asked before anything
    is written, so when it cannot answer the transfer is refused whole (503)."""
    try:
        return await request.app.state.agency_registry.agency(agency_code)
    except GatewayUnavailable as exc:
        raise ApiError(503, "agency_code", f"the transfer gateway cannot answer ({exc}): "
                       "nothing was transferred; retry") from None


@router.post("/clients/{code}/transfers", status_code=status.HTTP_201_CREATED,
             response_model=TransferDetail,
             summary="Transfer open items of the active dossier to an agency (F-27)")
async def create_transfer(
    code: str, body: TransferIn, request: Request, principal: Principal = Depends(can_write)
) -> TransferDetail:
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        check_follow_up_date(body.next_follow_up_date, date.today())
        agency = await _registered_agency(request, body.agency_code)
        transfer_id = await store.create_transfer(
            conn, client=client, item_ids=body.item_ids, agency_code=body.agency_code,
            agency=agency, next_follow_up_date=body.next_follow_up_date,
            opening_comment=body.opening_comment, actor=principal.actor,
            window=timedelta(seconds=request.app.state.settings.transfer_window_seconds),
        )
        return await _detail(conn, await store.transfer_by_id(conn, transfer_id))


@router.get("/clients/{code}/transfers", response_model=list[TransferOut],
            summary="The client's transfers, newest first (F-27 … F-29)")
async def list_transfers(
    code: str, request: Request, principal: Principal = Depends(can_read)
) -> list[TransferOut]:
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        return [TransferOut(**_out(t)) for t in await store.transfers_of(conn, client["id"])]


@router.get("/transfers/{transfer_id}", response_model=TransferDetail,
            summary="A transfer's detail: state, comments, items and actions (F-27 … F-29)")
async def get_transfer(
    transfer_id: UUID, request: Request, principal: Principal = Depends(can_read)
) -> TransferDetail:
    async with db_pool(request).acquire() as conn:
        return await _detail(conn, await _transfer_or_404(conn, transfer_id, principal))


@router.post("/transfers/{transfer_id}/cancel", response_model=CancelOut,
             summary="Cancel a transfer: immediate within the window (F-28), a request to "
                     "the agency after it (F-29); the transfer workflow decides (F-30)")
async def cancel_transfer(
    transfer_id: UUID, body: CancelIn, request: Request, principal: Principal = Depends(can_write)
) -> CancelOut:
    async with db_pool(request).acquire() as conn:
        transfer = await _transfer_or_404(conn, transfer_id, principal)
    if transfer["state"] == "closed":
        raise ApiError(409, "state", "the transfer is already closed")
    settings = request.app.state.settings
    # Issue 10: update-with-start, so a cancel never waits for the bridge to start the
    # workflow from `transfer.created`; the window ends when the transfer's row says (fixed
    # at its creation by the database clock, F-28, F-30), the same input the bridge gives.
    start_input = TransferWorkflowInput(
        transfer_id=transfer_id, client_id=transfer["client_id"],
        client_code=transfer["client_code"], agency_code=transfer["agency_code"],
        created_at=transfer["created_at"], window_ends_at=transfer["window_ends_at"],
        window_seconds=settings.transfer_window_seconds,
        answer_delay_seconds=settings.transfer_agency_answer_delay_seconds,
        dossier_task_queue=settings.temporal_dossier_task_queue,
    )
    result = await execute_update_with_start(
        request.app.state.temporal, transfer_workflow_id(transfer_id), contract.CANCEL,
        CancelTransfer(comment=body.comment, requested_by=principal.actor),
        workflow_type=contract.WORKFLOW_TYPE, start_input=start_input,
        task_queue=settings.temporal_task_queue, search_attributes=start_search_attributes(start_input),
        closed=ApiError(409, "state", "the transfer is already closed"),
    )
    return CancelOut(mode=result.mode.value, state=result.state.value)
