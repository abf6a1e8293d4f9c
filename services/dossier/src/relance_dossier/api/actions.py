"""Specific actions (F-15 .. F-20): the three-step flow on selected items of one client,
and the collector's commands on an action (Updates on its workflow)."""

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, Field

from relance.api.auth import Principal
from relance.api.errors import ApiError
from relance.contracts import Refusal, Update
from relance.contracts import action as contract
from relance.contracts.action import ActionCommand, ActionDueResult
from relance.scenarios import ActionType, StepMode
from relance.validation import EmailAddress
from relance.workflow_ids import action_workflow_id
from relance_dossier.api.auth import (
    active_dossier_or_409,
    can_read,
    can_write,
    client_or_404,
    db_pool,
    visible_or_404,
)
from relance_dossier.api.models import ApiInput
from relance_dossier.api.workflow_calls import execute_update
from relance_dossier.domain.actions import ITEM_STATUSES, check_action
from relance_dossier.persistence import actions as store
from relance_dossier.persistence import scenarios as scenarios_store

router = APIRouter(tags=["specific actions"])

INTERNAL_EMAIL_TEMPLATE = "internal-email"


class StatusStep(ApiInput):
    """Step 1: a status and comment on the selected items."""

    status: Literal[ITEM_STATUSES] | None = Field(description="None clears the status")  # type: ignore[valid-type]
    comment: str | None = Field(default=None, max_length=2000)


class EmailStep(ApiInput):
    """Step 2: an email now, to the client or as an internal interactive email to a
    colleague, who sees the items with their statuses and comments."""

    to: Literal["client", "colleague"]
    template_code: str | None = Field(default=None, description="client: default relance-email-1")
    colleague_email: EmailAddress | None = None
    note: str | None = Field(default=None, max_length=2000)


class CopyFrom(ApiInput):
    scenario_code: str | None = None
    scenario_version: int | None = None
    step_index: int | None = Field(default=None, ge=0)
    template_code: str | None = None


class ActionStep(ApiInput):
    """Step 3: follow the scenario, or create a specific action now or at a date (F-17)."""

    follow: Literal["scenario", "action"]
    copy_from: CopyFrom | None = Field(default=None,
                                       description="a scenario step or a template, then edited")
    action_type: ActionType | None = None
    mode: StepMode | None = None
    priority: int | None = Field(default=None, ge=1, le=5)
    template_code: str | None = None
    subject: str | None = Field(default=None, max_length=500)
    body: str | None = Field(default=None, max_length=50_000)
    label: str | None = Field(default=None, max_length=200)
    comment: str | None = Field(default=None, max_length=2000)
    due_at: datetime | None = Field(default=None, description="now if absent")


class SpecificFlowIn(ApiInput):
    item_ids: list[UUID] = Field(min_length=1, max_length=10_000)
    set_status: StatusStep | None = None
    email: EmailStep | None = None
    next: ActionStep


class ActionOut(BaseModel):
    id: UUID
    client_code: str
    collector_code: str | None
    action_type: str
    mode: str
    priority: int
    template_code: str | None
    subject: str | None
    body: str | None
    label: str | None
    due_at: datetime
    status: str
    comment: str | None
    copied_from: str | None
    communication_id: UUID | None
    created_by: str
    created_at: datetime
    completed_at: datetime | None
    item_ids: list[UUID]


class SpecificFlowOut(BaseModel):
    item_ids: list[UUID]
    status_set: bool
    communication_id: UUID | None
    action: ActionOut | None


class ActionCommandIn(ApiInput):
    comment: str | None = Field(default=None, max_length=2000)


async def _action_fields(conn, step: ActionStep) -> dict:
    """F-17: from scratch, or copied from a scenario step or a template, then edited."""
    fields: dict = {"priority": 1, "mode": StepMode.MANUAL.value}
    source = step.copy_from
    if source is not None and source.scenario_code is not None:
        scenario = await scenarios_store.scenario(conn, source.scenario_code, source.scenario_version)
        if scenario is None:
            raise ApiError(422, "next.copy_from.scenario_code", f"no scenario {source.scenario_code!r}")
        if source.step_index is None or source.step_index >= len(scenario["steps"]):
            raise ApiError(422, "next.copy_from.step_index",
                           f"the scenario has steps 0 to {len(scenario['steps']) - 1}")
        copied = scenario["steps"][source.step_index]
        fields.update({k: copied.get(k) for k in ("action_type", "mode", "priority",
                                                   "template_code", "label")})
        fields["copied_from"] = f"{scenario['code']} v{scenario['version']} step {source.step_index}"
    elif source is not None and source.template_code is not None:
        template = await scenarios_store.template(conn, source.template_code)
        if template is None:
            raise ApiError(422, "next.copy_from.template_code", f"no template {source.template_code!r}")
        fields.update({"action_type": template["channel"], "template_code": template["code"],
                       "subject": template["subject"], "body": template["body"]})
        fields["copied_from"] = f"template {template['code']}"
    elif source is not None:
        raise ApiError(422, "next.copy_from", "name a scenario step or a template")
    edits = step.model_dump(exclude_none=True, exclude={"follow", "copy_from", "due_at"}, mode="json")
    fields.update(edits)
    if fields.get("action_type") is None:
        raise ApiError(422, "next.action_type", "an action needs an action type")
    if fields.get("template_code") and await scenarios_store.template(conn, fields["template_code"]) is None:
        raise ApiError(422, "next.template_code", f"no template {fields['template_code']!r}")
    check_action(fields["action_type"], fields["mode"], fields.get("template_code"), "next",
                 body=fields.get("body"))
    return fields


@router.post("/clients/{code}/specific-actions", status_code=status.HTTP_201_CREATED,
             response_model=SpecificFlowOut,
             summary="F-15, F-16: on selected items: (1) status and comment, (2) an email now "
                     "to the client or a colleague, (3) follow the scenario or create a "
                     "specific action now or at a date — in one transaction")
async def specific_flow(code: str, body: SpecificFlowIn, request: Request,
                        principal: Principal = Depends(can_write)) -> SpecificFlowOut:
    item_ids = list(dict.fromkeys(body.item_ids))
    now = datetime.now(UTC)
    due_at = body.next.due_at or now
    if body.next.follow == "action" and due_at.tzinfo is None:
        raise ApiError(422, "next.due_at", "give a time zone (e.g. 2026-12-01T09:00:00+01:00)")
    if body.next.follow == "action" and due_at < now.replace(microsecond=0):
        raise ApiError(422, "next.due_at", "must not be in the past")
    if body.email is not None and body.email.to == "colleague" and body.email.colleague_email is None:
        raise ApiError(422, "email.colleague_email", "an internal email needs the colleague's address")
    communication_id = action_id = None
    async with db_pool(request).acquire() as conn, conn.transaction():
        client = await client_or_404(conn, code, principal)
        dossier_id = await active_dossier_or_409(conn, client)
        items = await store.selectable_items(conn, dossier_id, item_ids)
        found = {i["id"] for i in items}
        missing = [str(i) for i in item_ids if i not in found]
        if missing:
            raise ApiError(422, "item_ids", f"not items of the client's active dossier: {', '.join(missing)}")
        if body.next.follow == "action":
            settled = [i["number"] for i in items if i["open_amount"] == 0]
            if settled:
                raise ApiError(422, "item_ids", f"settled items need no action: {', '.join(settled)}")
            taken = [i["number"] for i in items if i["under_action"]]
            if taken:
                raise ApiError(409, "item_ids", f"already under a specific action: {', '.join(taken)}")
            fields = await _action_fields(conn, body.next)
        if body.set_status is not None:
            await store.set_items_status(
                conn, client_id=client["id"], dossier_id=dossier_id, item_ids=item_ids,
                status=body.set_status.status, comment=body.set_status.comment, actor=principal.actor)
            items = await store.selectable_items(conn, dossier_id, item_ids)
        if body.email is not None:
            communication_id = uuid4()
            ordered = sorted(items, key=lambda i: (i["due_date"], i["number"]))
            if body.email.to == "client":
                template_code = body.email.template_code or "relance-email-1"
                if await scenarios_store.template(conn, template_code) is None:
                    raise ApiError(422, "email.template_code", f"no template {template_code!r}")
                await store.request_email(
                    conn, communication_id=communication_id, client=client, dossier_id=dossier_id,
                    items=ordered, channel="email", template_code=template_code,
                    actor=principal.actor, note=body.email.note)
            else:
                await store.request_email(
                    conn, communication_id=communication_id, client=client, dossier_id=dossier_id,
                    items=ordered, channel="internal_email",
                    template_code=body.email.template_code or INTERNAL_EMAIL_TEMPLATE,
                    actor=principal.actor, recipient_email=str(body.email.colleague_email),
                    link_url=f"{str(request.base_url).rstrip('/')}/clients/{code}",
                    sender=principal.name, note=body.email.note)
        if body.next.follow == "action":
            action_id = uuid4()
            await store.create_action(conn, action_id=action_id, client=client,
                                      dossier_id=dossier_id, item_ids=item_ids, fields=fields,
                                      due_at=due_at, actor=principal.actor)
        action = await store.action(conn, action_id) if action_id else None
    return SpecificFlowOut(item_ids=item_ids, status_set=body.set_status is not None,
                           communication_id=communication_id,
                           action=ActionOut(**dict(action)) if action else None)


@router.get("/clients/{code}/specific-actions", response_model=list[ActionOut],
            summary="F-19: the client's specific actions")
async def client_actions(code: str, request: Request, principal: Principal = Depends(can_read)):
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        return [ActionOut(**dict(a)) for a in await store.actions_of_client(conn, client["id"])]


async def _visible_action(request: Request, action_id: UUID, principal: Principal):
    async with db_pool(request).acquire() as conn:
        row = await store.action(conn, action_id)
        return await visible_or_404(conn, row, principal, "action_id", f"no specific action {action_id}")


@router.get("/specific-actions/{action_id}", response_model=ActionOut)
async def get_action(action_id: UUID, request: Request, principal: Principal = Depends(can_read)):
    return ActionOut(**dict(await _visible_action(request, action_id, principal)))


async def _command(request: Request, action_id: UUID,
                   update: Update[ActionCommand, ActionDueResult], principal: Principal,
                   comment: str | None, confirm: bool = False) -> ActionOut:
    row = await _visible_action(request, action_id, principal)
    if row["status"] not in store.PENDING:
        raise ApiError(409, "status", f"the action is already {row['status']}")
    async def catching_up(refusal: Refusal) -> bool:
        # The row says awaiting confirmation before the workflow has recorded its step.
        return refusal is Refusal.NOT_AWAITING_CONFIRMATION and row["status"] == "awaiting_confirmation"

    await execute_update(
        request.app.state.temporal, action_workflow_id(action_id), update,
        ActionCommand(actor=principal.actor, comment=comment, confirm=confirm),
        not_running=ApiError(409, None, "no running workflow for this action"),
        catching_up=catching_up)
    return ActionOut(**dict(await _visible_action(request, action_id, principal)))


@router.post("/specific-actions/{action_id}/confirm", response_model=ActionOut,
             summary="F-17: validate a to-confirm action on its date: it is sent")
async def confirm(action_id: UUID, request: Request, body: ActionCommandIn | None = None,
                  principal: Principal = Depends(can_write)):
    return await _command(request, action_id, contract.CONFIRM, principal, body and body.comment)


@router.post("/specific-actions/{action_id}/done", response_model=ActionOut,
             summary="Mark a manual action done")
async def done(action_id: UUID, request: Request, body: ActionCommandIn | None = None,
               principal: Principal = Depends(can_write)):
    return await _command(request, action_id, contract.DONE, principal, body and body.comment)


@router.delete("/specific-actions/{action_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a pending action (confirm=true); its items return to the scenario")
async def delete(action_id: UUID, request: Request, confirm: bool = Query(default=False),
                 comment: str | None = Query(default=None, max_length=2000),
                 principal: Principal = Depends(can_write)):
    if not confirm:
        raise ApiError(422, "confirm", "deleting an action must be confirmed (confirm=true)")
    await _command(request, action_id, contract.DELETE, principal, comment, confirm=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
