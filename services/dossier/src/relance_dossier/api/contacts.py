"""A client's contacts and their channels (F-21, F-22).

Channel states: pending, validated, validated+default, invalid. Invalid channels are
hidden unless `include_invalid=true`. Every change is audited (F-33) and announced on
`contact.events`, in the transaction of the change."""

from uuid import UUID

import asyncpg
from fastapi import APIRouter, Body, Depends, Query, Request, status
from pydantic import ConfigDict, Field

from relance.api.auth import Principal
from relance.api.errors import ApiError
from relance_dossier.api.auth import can_read, can_write, client_or_404, db_pool
from relance_dossier.api.models import (
    LOCALE_PATTERN,
    ApiInput,
    ChannelIn,
    ChannelOut,
    ContactIn,
    ContactOut,
)
from relance_dossier.domain.accounts import check_one_default_per_type
from relance_dossier.domain.contacts import (
    ChannelAction,
    ChannelStatus,
    ChannelTransitionRefused,
    apply_channel_action,
    check_channel_value,
    check_new_channel,
    status_after_value_change,
)
from relance_dossier.persistence import clients as client_store
from relance_dossier.persistence import contacts as store

router = APIRouter(prefix="/clients/{code}/contacts", tags=["contacts"])


class CommentIn(ApiInput):
    """Why the change was made, kept in the audit trail (F-33)."""

    comment: str | None = Field(default=None, max_length=2000)


class NewContactIn(ContactIn):
    comment: str | None = Field(default=None, max_length=2000)


class NewChannelIn(ChannelIn):
    comment: str | None = Field(default=None, max_length=2000)


class ContactPatch(ApiInput):
    """F-22: only the fields sent are changed. The observation holds the contact's role:
    objective, professional information only."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    observation: str | None = Field(default=None, max_length=2000)
    # F-39: the language the contact reads; null: the client's locale.
    language: str | None = Field(default=None, pattern=LOCALE_PATTERN)
    comment: str | None = Field(default=None, max_length=2000)


class ChannelPatch(ApiInput):
    """A new value goes back to pending: nobody has qualified it yet (F-21)."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=500)
    comment: str | None = Field(default=None, max_length=2000)


def _check_channel_values(channels: list[ChannelIn], prefix: str) -> None:
    for index, channel in enumerate(channels):
        check_channel_value(channel.type, channel.value, f"{prefix}{index}")


async def _contact_or_404(conn: asyncpg.Connection, client_id: UUID, contact_id: UUID) -> asyncpg.Record:
    contact = await store.contact_of_client(conn, client_id, contact_id)
    if contact is None:
        raise ApiError(404, "contact_id", f"no contact {contact_id} on this client")
    return contact


@router.get("", response_model=list[ContactOut],
            summary="The client's contacts; invalid channels only when asked (F-21)")
async def list_contacts(
    code: str, request: Request,
    include_invalid: bool = Query(False, description="also list invalid channels"),
    principal: Principal = Depends(can_read),
) -> list[ContactOut]:
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        return [ContactOut(**c) for c in await client_store.contacts_of(conn, client["id"], include_invalid)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ContactOut,
             summary="Create a contact with its channels (F-22)")
async def create_contact(
    code: str, body: NewContactIn, request: Request, principal: Principal = Depends(can_write)
) -> ContactOut:
    check_one_default_per_type(
        (f"channels.{i}", ch.type, ch.is_default, ch.state) for i, ch in enumerate(body.channels)
    )
    _check_channel_values(body.channels, "channels.")
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        contact_id = await store.create_contact(
            conn, client_id=client["id"], contact=body, actor=principal.actor, comment=body.comment
        )
        return ContactOut(**await store.contact_with_channels(conn, contact_id))


@router.patch("/{contact_id}", response_model=ContactOut,
              summary="Edit a contact's name, observation (its role) (F-22) or language (F-39)")
async def update_contact(
    code: str, contact_id: UUID, body: ContactPatch, request: Request,
    principal: Principal = Depends(can_write),
) -> ContactOut:
    changes = body.model_dump(include={"name", "observation", "language"} & body.model_fields_set)
    if changes.get("name", "") is None:
        raise ApiError(422, "name", "a contact must keep a name")
    if not changes:
        raise ApiError(422, None, "nothing to change: send name, observation and/or language")
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        await _contact_or_404(conn, client["id"], contact_id)
        await store.update_contact(
            conn, client_id=client["id"], contact_id=contact_id, changes=changes,
            actor=principal.actor, comment=body.comment,
        )
        return ContactOut(**await store.contact_with_channels(conn, contact_id))


@router.post("/{contact_id}/channels", status_code=status.HTTP_201_CREATED, response_model=ChannelOut,
             summary="Add a postal address, email or phone to a contact (F-21)")
async def add_channel(
    code: str, contact_id: UUID, body: NewChannelIn, request: Request,
    principal: Principal = Depends(can_write),
) -> ChannelOut:
    check_new_channel(body.state, body.is_default)
    check_channel_value(body.type, body.value)
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        await _contact_or_404(conn, client["id"], contact_id)
        channel_id = await store.add_channel(
            conn, client_id=client["id"], contact_id=contact_id, channel=body,
            actor=principal.actor, comment=body.comment,
        )
        return ChannelOut(**dict(await store.channel_of_contact(conn, client["id"], contact_id, channel_id)))


async def _change_channel(
    request: Request, principal: Principal, code: str, contact_id: UUID, channel_id: UUID,
    *, action: str, comment: str | None, new_value: str | None = None,
    transition: ChannelAction | None = None,
) -> ChannelOut:
    """Read, decide and write under the client's lock, so the decision is made on the
    channel's current status and a concurrent change waits for this one."""
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        client_id = client["id"]
        async with conn.transaction():
            await store.lock_client(conn, client_id)
            await _contact_or_404(conn, client_id, contact_id)
            channel = await store.channel_of_contact(conn, client_id, contact_id, channel_id)
            if channel is None:
                raise ApiError(404, "channel_id", f"no channel {channel_id} on this contact")
            current = ChannelStatus(channel["state"], channel["is_default"])
            value = channel["value"]
            if new_value is not None:
                check_channel_value(channel["type"], new_value)
                after = status_after_value_change(current, value, new_value)
                value = new_value.strip()
            else:
                assert transition is not None
                try:
                    after = apply_channel_action(current, transition)
                except ChannelTransitionRefused as refused:
                    raise ApiError(409, refused.field, refused.reason) from None
            if after != current or value != channel["value"]:
                await store.change_channel(
                    conn, client_id=client_id, contact_id=contact_id, channel_id=channel_id,
                    action=action, value=value, state=after.state, is_default=after.is_default,
                    previous=channel, actor=principal.actor, comment=comment,
                )
        return ChannelOut(**dict(await store.channel_of_contact(conn, client_id, contact_id, channel_id)))


@router.patch("/{contact_id}/channels/{channel_id}", response_model=ChannelOut,
              summary="Change a channel's value; a new value is pending again (F-21)")
async def edit_channel(
    code: str, contact_id: UUID, channel_id: UUID, body: ChannelPatch, request: Request,
    principal: Principal = Depends(can_write),
) -> ChannelOut:
    return await _change_channel(
        request, principal, code, contact_id, channel_id, action="edit", comment=body.comment,
        new_value=body.value,
    )


def _transition_route(action: ChannelAction, summary: str) -> None:
    async def transition(
        code: str, contact_id: UUID, channel_id: UUID, request: Request,
        body: CommentIn | None = Body(default=None),
        principal: Principal = Depends(can_write),
    ) -> ChannelOut:
        return await _change_channel(
            request, principal, code, contact_id, channel_id, action=action.value,
            comment=body.comment if body else None, transition=action,
        )

    transition.__name__ = f"{action.value.replace('-', '_')}_channel"
    router.add_api_route(
        f"/{{contact_id}}/channels/{{channel_id}}/{action.value}", transition, methods=["POST"],
        response_model=ChannelOut, summary=summary,
    )


_transition_route(ChannelAction.VALIDATE, "Validate a channel (F-21, F-22)")
_transition_route(ChannelAction.INVALIDATE,
                  "Invalidate a channel; it stops being the default and is hidden (F-21, F-22)")
_transition_route(ChannelAction.CANCEL_VALIDATION,
                  "Cancel a channel's validation: back to pending, no longer default (F-22)")
_transition_route(ChannelAction.MAKE_DEFAULT,
                  "Make a validated channel the default of its type; the previous default "
                  "loses the flag in the same transaction (F-21)")
