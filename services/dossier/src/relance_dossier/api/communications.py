"""Contacting the client (F-23): from a contact's channel or from "communication actions",
by email, SMS or letter (sent by the notifier) or by phone (a call logged by the
collector). Every communication stays in the client's trace."""

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field

from relance.api.auth import Principal
from relance.api.errors import ApiError
from relance.outbox import write_events
from relance_dossier.api.auth import can_write, client_or_404
from relance_dossier.api.models import ApiInput
from relance_dossier.persistence.clients import active_dossier, record_audit
from relance_dossier.persistence.communications import (
    CHANNEL_TYPE,
    communication_command,
    log_call,
)

router = APIRouter(tags=["communications"])


class ContactClientIn(ApiInput):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"channel": "email", "template_code": "REMINDER_1"},
        {"channel": "call", "note": "Promised to pay by the 15th"}]})

    channel: Literal["email", "sms", "letter", "call"]
    channel_id: UUID | None = Field(
        default=None,
        description="One of the client's contact channels; without it the default validated "
        "channel of the right type is used. Never an invalid channel.",
    )
    template_code: str | None = None
    subject: str | None = Field(default=None, max_length=500)
    body: str | None = Field(default=None, max_length=50_000)
    item_ids: list[UUID] | None = Field(
        default=None, description="Items the message is about (default: every open item of the active dossier)"
    )
    note: str | None = Field(default=None, max_length=5_000, description="For a call: what was said")


class ContactClientOut(BaseModel):
    communication_id: UUID
    channel: str
    status: str  # requested (the notifier sends it) | logged (a call)
    recipient: str | None


@router.post(
    "/clients/{code}/communications",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ContactClientOut,
    summary="Contact the client by email, SMS, letter or call (F-23)",
)
async def contact_client(
    code: str, body: ContactClientIn, request: Request, principal: Principal = Depends(can_write)
) -> ContactClientOut:
    if body.channel != "call" and not body.template_code and not (body.body and body.body.strip()):
        raise ApiError(422, "template_code", "a message needs a template or its own body")
    communication_id = uuid4()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        client = await client_or_404(conn, code, principal)
        recipient = None
        if body.channel_id is not None:
            channel = await conn.fetchrow(
                "SELECT type, value, state FROM contact_channels WHERE id = $1 AND client_id = $2",
                body.channel_id, client["id"],
            )
            if channel is None:
                raise ApiError(422, "channel_id", "not a contact channel of this client")
            if channel["type"] != CHANNEL_TYPE[body.channel]:
                raise ApiError(
                    422, "channel_id", f"a {body.channel} goes through a {CHANNEL_TYPE[body.channel]} channel"
                )
            if channel["state"] == "invalid":
                raise ApiError(422, "channel_id", "this channel is invalid")
            recipient = channel["value"]
        if body.channel == "call":
            await log_call(conn, communication_id, client["id"], recipient, body.note,
                           datetime.now(UTC))
            outcome = "logged"
        else:
            dossier_id = await active_dossier(conn, client["id"])
            command = await communication_command(
                conn, communication_id=communication_id, client_id=client["id"],
                channel=body.channel, template_code=body.template_code,
                item_ids=body.item_ids, automatic=False, dossier_id=dossier_id,
                contact_value=recipient, subject=body.subject, body=body.body, note=body.note,
                sender=principal.name,
            )
            if body.template_code and command.template is None:
                raise ApiError(422, "template_code", f"no template {body.template_code!r}")
            if body.item_ids is not None and (
                len(command.items) != len(set(body.item_ids))
                or any(i.open_amount == 0 for i in command.items)
            ):
                raise ApiError(422, "item_ids", "every item must be an open item of this client")
            await write_events(conn, [command.envelope(
                aggregate_id=communication_id, client_id=client["id"], actor=principal.actor
            )])
            outcome = "requested"
        await record_audit(
            conn, client_id=client["id"], actor=principal.actor, action=f"contact_by_{body.channel}",
            entity="communication", entity_id=str(communication_id), comment=body.note,
            details={"channel_id": str(body.channel_id) if body.channel_id else None},
        )
    return ContactClientOut(
        communication_id=communication_id, channel=body.channel, status=outcome, recipient=recipient
    )
