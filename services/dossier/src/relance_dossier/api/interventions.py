"""Interventions: the collector's commands on a dossier (F-10 .. F-13).

Prepare, done, skip, edit, create and delete are Temporal Updates on the dossier's
workflow, so the answer and the scenario's timers are ordered in one history; the
workflow's validators refuse what cannot be done, with a reason the API passes on
(`workflow_calls`)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile, status
from pydantic import BaseModel, Field

from relance.api.auth import Principal
from relance.api.errors import ApiError
from relance.contracts import Refusal, Update
from relance.contracts import dossier as contract
from relance.contracts.dossier import (
    InterventionCommand,
    InterventionCommandResult,
    InterventionDeletion,
    InterventionEdit,
    NewIntervention,
    PrepareNextStep,
)
from relance.workflow_ids import dossier_workflow_id
from relance_dossier.api.auth import (
    active_dossier_or_409,
    can_read,
    can_write,
    client_or_404,
    db_pool,
    visible_or_404,
)
from relance_dossier.api.models import ApiInput
from relance_dossier.api.workflow_calls import execute_update, query
from relance_dossier.persistence import interventions as store

router = APIRouter(tags=["interventions"])

NO_WORKFLOW = "no running workflow for this dossier"
DOCUMENT_MAX_BYTES = 1_000_000


class InterventionDetail(BaseModel):
    id: UUID
    dossier_id: UUID
    client_code: str
    origin: str
    scenario_code: str | None
    scenario_version: int | None
    step_index: int | None
    action_type: str
    mode: str
    priority: int
    template_code: str | None
    due_at: datetime
    status: str
    comment: str | None
    details: dict[str, Any]
    created_at: datetime
    completed_at: datetime | None
    created_by: str | None
    promise_amount: Decimal | None
    promise_date: date | None
    outcome: str | None
    prepared_at: datetime | None
    document_name: str | None
    document_content_type: str | None
    document_size: int | None
    document_attached_at: datetime | None


class NextStep(BaseModel):
    step_index: int
    action_type: str
    mode: str
    label: str | None = None
    due_at: datetime


class CommandIn(ApiInput):
    comment: str | None = Field(default=None, max_length=2000)


class CommandOut(BaseModel):
    intervention: InterventionDetail
    communication_id: UUID | None = None
    open_interventions: int
    next_step: NextStep | None = Field(description="the scenario's next step (F-10)")
    next_step_available: bool = Field(
        description="F-11: every intervention is Done and a next step can be prepared now")


class EditIn(ApiInput):
    comment: str | None = Field(default=None, max_length=2000)
    details: dict[str, Any] | None = None
    due_at: datetime | None = None


class NewInterventionIn(ApiInput):
    kind: Literal["manual", "alert", "promise"] = Field(
        description="a task, an alert (a reminder at a date) or a promise to pay (F-12)")
    action_type: Literal["call", "internal_task", "email", "letter", "sms"] = "internal_task"
    due_at: datetime | None = Field(default=None, description="when it is due; now if absent")
    priority: int = Field(default=1, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)
    label: str | None = Field(default=None, max_length=200)
    promise_amount: Decimal | None = Field(default=None, gt=0, max_digits=18, decimal_places=2)
    promise_date: date | None = None
    item_ids: list[UUID] = Field(default_factory=list,
                                 description="the items concerned; all open invoices if empty")


class DossierPrompt(BaseModel):
    """F-11: the closing prompt."""

    state: str
    open_interventions: int
    next_step: NextStep | None
    next_step_available: bool
    # Issue 10: with state needs_attention, why the scenario cannot be planned.
    problem: str | None = None


class PreparedNext(BaseModel):
    intervention: InterventionDetail


async def _update(request: Request, dossier_id: UUID, update: Update, arg: Any,
                  intervention_id: UUID | None = None) -> Any:
    """An Update on the dossier's workflow (F-10 .. F-13). The activities commit their rows
    before the workflow records their results, so a refusal that the rows contradict is the
    workflow catching up, not an answer: an intervention refused as closed or unknown while
    its row is still To do, or a next step refused while no intervention is To do."""

    async def catching_up(refusal: Refusal) -> bool:
        pool = db_pool(request)
        if intervention_id is not None and refusal in (
                Refusal.INTERVENTION_CLOSED, Refusal.INTERVENTION_NOT_FOUND):
            return await pool.fetchval(
                "SELECT status = 'todo' FROM interventions WHERE id = $1", intervention_id) is True
        if refusal is Refusal.INTERVENTIONS_OPEN:
            return not await pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM interventions WHERE dossier_id = $1 AND status = 'todo')",
                dossier_id)
        return False

    return await execute_update(request.app.state.temporal, dossier_workflow_id(dossier_id),
                                update, arg, not_running=ApiError(409, None, NO_WORKFLOW),
                                catching_up=catching_up)


async def _visible(conn, intervention_id: UUID, principal: Principal):
    row = await store.intervention(conn, intervention_id)
    return await visible_or_404(conn, row, principal, "intervention_id", f"no intervention {intervention_id}")


async def _detail(request: Request, intervention_id: UUID) -> InterventionDetail:
    async with db_pool(request).acquire() as conn:
        row = await store.intervention(conn, intervention_id)
    if row is None:
        raise ApiError(404, "intervention_id", f"no intervention {intervention_id}")
    return InterventionDetail(**dict(row))


async def _todo(request: Request, intervention_id: UUID, principal: Principal):
    async with db_pool(request).acquire() as conn:
        row = await _visible(conn, intervention_id, principal)
    if row["status"] != "todo":
        raise ApiError(409, "status", f"the intervention is already {row['status']}")
    return row


def _next_step(preview: BaseModel | None) -> NextStep | None:
    return NextStep(**preview.model_dump()) if preview is not None else None


async def _command(request: Request, intervention_id: UUID,
                   update: Update[InterventionCommand, InterventionCommandResult],
                   body: CommandIn, principal: Principal) -> CommandOut:
    row = await _todo(request, intervention_id, principal)
    result: InterventionCommandResult = await _update(
        request, row["dossier_id"], update, InterventionCommand(
            intervention_id=intervention_id, actor=principal.actor, comment=body.comment),
        intervention_id)
    return CommandOut(
        intervention=await _detail(request, intervention_id),
        communication_id=result.communication_id,
        open_interventions=result.open_interventions, next_step=_next_step(result.next_step),
        next_step_available=result.next_step_available,
    )


@router.get("/interventions/{intervention_id}", response_model=InterventionDetail)
async def get_intervention(intervention_id: UUID, request: Request,
                           principal: Principal = Depends(can_read)):
    async with db_pool(request).acquire() as conn:
        return InterventionDetail(**dict(await _visible(conn, intervention_id, principal)))


@router.post("/interventions/{intervention_id}/prepare", response_model=CommandOut,
             summary="F-10: execute the step's planned action (a letter is rendered and "
                     "printed, then Done by itself) and show the next step")
async def prepare(intervention_id: UUID, request: Request, body: CommandIn | None = None,
                  principal: Principal = Depends(can_write)):
    return await _command(request, intervention_id, contract.PREPARE, body or CommandIn(), principal)


@router.post("/interventions/{intervention_id}/done", response_model=CommandOut,
             summary="F-10: mark Done; F-11: says whether the next step can be prepared")
async def done(intervention_id: UUID, request: Request, body: CommandIn | None = None,
               principal: Principal = Depends(can_write)):
    return await _command(request, intervention_id, contract.DONE, body or CommandIn(), principal)


@router.post("/interventions/{intervention_id}/skip", response_model=CommandOut,
             summary="F-10: mark Skipped; the scenario moves on")
async def skip(intervention_id: UUID, request: Request, body: CommandIn | None = None,
               principal: Principal = Depends(can_write)):
    return await _command(request, intervention_id, contract.SKIP, body or CommandIn(), principal)


@router.patch("/interventions/{intervention_id}", response_model=InterventionDetail,
              summary="F-10: update the details, comment or due date")
async def edit(intervention_id: UUID, body: EditIn, request: Request,
               principal: Principal = Depends(can_write)):
    async with db_pool(request).acquire() as conn:
        row = await _visible(conn, intervention_id, principal)
    await _update(request, row["dossier_id"], contract.EDIT, InterventionEdit(
        intervention_id=intervention_id, actor=principal.actor, **body.model_dump()),
        intervention_id)
    return await _detail(request, intervention_id)


@router.post("/clients/{code}/interventions", status_code=status.HTTP_201_CREATED,
             response_model=InterventionDetail,
             summary="F-12: create an intervention by hand: a task, an alert (reminder) or a "
                     "promise to pay (kept when its items are paid by its date)")
async def create(code: str, body: NewInterventionIn, request: Request,
                 principal: Principal = Depends(can_write)):
    if body.kind == "promise":
        if body.promise_amount is None:
            raise ApiError(422, "promise_amount", "a promise to pay needs an amount")
        if body.promise_date is None:
            raise ApiError(422, "promise_date", "a promise to pay needs a date")
    elif body.promise_amount is not None or body.promise_date is not None:
        raise ApiError(422, "kind", "only a promise has an amount and a date")
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        dossier_id = await active_dossier_or_409(conn, client)
        item_ids = body.item_ids
        if item_ids:
            found = await store.items_of_dossier(conn, dossier_id, item_ids)
            missing = [str(i) for i in item_ids if i not in found]
            if missing:
                raise ApiError(422, "item_ids", f"not items of the active dossier: {', '.join(missing)}")
        else:
            item_ids = await store.open_invoice_ids(conn, dossier_id)
    due_at = body.due_at or datetime.now().astimezone()
    if body.kind == "promise" and body.due_at is None:
        due_at = datetime.combine(body.promise_date, datetime.min.time()).astimezone()
    intervention_id = uuid4()
    await _update(request, dossier_id, contract.CREATE, NewIntervention(
        intervention_id=intervention_id, actor=principal.actor, kind=body.kind,
        action_type=body.action_type, due_at=due_at, priority=body.priority,
        comment=body.comment, label=body.label,
        promise_amount=str(body.promise_amount) if body.promise_amount is not None else None,
        promise_date=body.promise_date, item_ids=item_ids,
    ))
    return await _detail(request, intervention_id)


@router.delete("/interventions/{intervention_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="F-12: delete a hand-made intervention; requires confirm=true")
async def delete(intervention_id: UUID, request: Request,
                 confirm: bool = Query(default=False, description="must be true"),
                 comment: str | None = Query(default=None, max_length=2000),
                 principal: Principal = Depends(can_write)):
    if not confirm:
        raise ApiError(422, "confirm", "deleting an intervention must be confirmed (confirm=true)")
    row = await _todo(request, intervention_id, principal)
    if row["document_size"] is not None:
        raise ApiError(409, "document", "an intervention with a document is never deleted (F-13)")
    await _update(request, row["dossier_id"], contract.DELETE, InterventionDeletion(
        intervention_id=intervention_id, actor=principal.actor, confirm=True, comment=comment),
        intervention_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/interventions/{intervention_id}/document", response_model=InterventionDetail,
            summary="F-13: attach the intervention's one document; it can then be read but "
                    "never replaced nor deleted")
async def attach_document(intervention_id: UUID, request: Request,
                          file: UploadFile = File(..., description="multipart/form-data"),
                          principal: Principal = Depends(can_write)):
    # Issue 10: the same content types as the client's attachments (F-26), refused with 415.
    media_type = (file.content_type or "").split(";", 1)[0].strip().lower()
    allowed = [t.lower() for t in request.app.state.settings.attachment_content_types]
    if media_type not in allowed:
        raise ApiError(415, "file", f"content type {media_type or 'unknown'!r} is not allowed;"
                       f" allowed: {', '.join(allowed)}")
    content = await file.read(DOCUMENT_MAX_BYTES + 1)
    if len(content) > DOCUMENT_MAX_BYTES:
        raise ApiError(413, "file", f"the document is larger than {DOCUMENT_MAX_BYTES} bytes")
    if not content:
        raise ApiError(422, "file", "the document is empty")
    name = (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or "\x00" in name or len(name) > 255:
        raise ApiError(422, "file", "the document needs a name of at most 255 characters")
    async with db_pool(request).acquire() as conn, conn.transaction():
        row = await _visible(conn, intervention_id, principal)
        attached = await store.attach_document(
            conn, intervention_id=intervention_id, client_id=row["client_id"], name=name,
            content_type=media_type,
            content=content, actor=principal.actor,
        )
    if not attached:
        raise ApiError(409, "document", "a document is already attached and cannot be replaced (F-13)")
    return await _detail(request, intervention_id)


@router.get("/interventions/{intervention_id}/document",
            summary="F-13: open the intervention's document")
async def read_document(intervention_id: UUID, request: Request,
                        principal: Principal = Depends(can_read)):
    async with db_pool(request).acquire() as conn:
        await _visible(conn, intervention_id, principal)
        row = await store.document(conn, intervention_id)
    if row is None or row["document"] is None:
        raise ApiError(404, "document", "no document is attached to this intervention")
    name = row["document_name"].replace('"', "")
    return Response(content=row["document"], media_type=row["document_content_type"],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _dossier_of(request: Request, code: str, principal: Principal) -> UUID:
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        dossier_id = await active_dossier_or_409(conn, client)
    return dossier_id


@router.get("/clients/{code}/dossier/prompt", response_model=DossierPrompt,
            summary="F-11: when every intervention is Done, may the next step be prepared?")
async def dossier_prompt(code: str, request: Request, principal: Principal = Depends(can_read)):
    dossier_id = await _dossier_of(request, code, principal)
    status_ = await query(request.app.state.temporal, dossier_workflow_id(dossier_id),
                          contract.STATUS, not_running=ApiError(409, "code", NO_WORKFLOW))
    return DossierPrompt(state=status_.state, open_interventions=status_.open_interventions,
                         next_step=_next_step(status_.next_step),
                         next_step_available=status_.next_step_available,
                         problem=status_.problem)


@router.post("/clients/{code}/dossier/prepare-next", response_model=PreparedNext,
             summary="F-11: every intervention is Done: open the next step now")
async def prepare_next(code: str, request: Request, principal: Principal = Depends(can_write)):
    dossier_id = await _dossier_of(request, code, principal)
    result = await _update(request, dossier_id, contract.PREPARE_NEXT_STEP,
                           PrepareNextStep(actor=principal.actor))
    if result.intervention_id is None:
        raise ApiError(409, None, "the scenario has no next step for this dossier")
    return PreparedNext(intervention=await _detail(request, result.intervention_id))
