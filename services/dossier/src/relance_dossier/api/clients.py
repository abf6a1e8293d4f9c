"""Client accounts: create, read the card, the interventions and the trace."""


import asyncpg
from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from relance.api.auth import Principal, Role
from relance.api.errors import ApiError
from relance_dossier.api.auth import can_read, can_write, client_or_404, db_pool
from relance_dossier.api.models import (
    Aging,
    AttachmentOut,
    ClientCard,
    ClientIn,
    ClientOut,
    ClientPatch,
    CommunicationOut,
    ContactOut,
    DossierOut,
    InterventionOut,
    ItemOut,
    NoteOut,
    PendingActionOut,
)
from relance_dossier.domain.accounts import check_one_default_per_type
from relance_dossier.persistence import actions as action_store
from relance_dossier.persistence import attachments as attachment_store
from relance_dossier.persistence import audit as audit_store
from relance_dossier.persistence import clients as store
from relance_dossier.persistence import notes as note_store

router = APIRouter(prefix="/clients", tags=["clients"])


async def _card(conn: asyncpg.Connection, code: str, principal: Principal,
                items_limit: int | None = None, items_offset: int = 0) -> ClientCard:
    client = await client_or_404(conn, code, principal)
    dossiers = [DossierOut(**dict(d)) for d in await store.dossiers_of(conn, client["id"])]
    summary = dict(await store.open_items_summary(conn, client["id"]))
    return ClientCard(
        client=ClientOut(**dict(client)),
        active_dossier=next((d for d in dossiers if d.kind == "active"), None),
        transfer_dossiers=[d for d in dossiers if d.kind == "transfer"],
        open_items=[ItemOut(**dict(i)) for i in await store.open_items_of(
            conn, client["id"], items_limit, items_offset)],
        open_item_count=summary.pop("open_item_count"),
        aging=Aging(**summary),
        contacts=[ContactOut(**c) for c in await store.contacts_of(conn, client["id"], False)],
        pending_interventions=[
            InterventionOut(**dict(i))
            for i in await store.interventions_of(conn, client["id"], pending_only=True)
        ],
        pending_specific_actions=[
            PendingActionOut(**dict(a))
            for a in await action_store.actions_of_client(conn, client["id"], pending_only=True)
        ],
        notes=[NoteOut(**dict(n)) for n in await note_store.notes_of(conn, client["id"])],
        attachments=[
            AttachmentOut(**dict(a)) for a in await attachment_store.attachments_of(conn, client["id"])
        ],
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ClientCard,
             summary="Create a client account with its contacts and items (F-1, F-2, F-21)")
async def create_client(
    body: ClientIn, request: Request, principal: Principal = Depends(can_write)
) -> ClientCard:
    check_one_default_per_type(
        (f"contacts.{ci}.channels.{chi}", ch.type, ch.is_default, ch.state)
        for ci, contact in enumerate(body.contacts)
        for chi, ch in enumerate(contact.channels)
    )
    numbers = [(i.kind, i.number) for i in body.items]
    if len(numbers) != len(set(numbers)):
        raise ApiError(422, "items", "item numbers must be unique per kind")
    async with db_pool(request).acquire() as conn:
        # Issue 10 (F-9): an unknown scenario is refused here, not discovered when planning.
        if body.scenario_code is not None and not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM scenarios WHERE code = $1)", body.scenario_code
        ):
            raise ApiError(422, "scenario_code", f"no scenario with code {body.scenario_code!r}")
        try:
            await store.create_client(
                conn, body, actor=principal.actor,
                collector_id=principal.collector_id if principal.role is Role.COLLECTOR else None,
            )
        except store.ClientCodeTaken:
            raise ApiError(409, "code", f"a client with code {body.code!r} already exists")
        return await _card(conn, body.code, principal)


@router.get("/{code}", response_model=ClientCard, summary="The client card in one read")
async def get_client(
    code: str, request: Request, response: Response,
    items_limit: int | None = Query(default=None, ge=1, le=1000,
                                    description="one page of open items (default: all)"),
    items_offset: int = Query(default=0, ge=0),
    principal: Principal = Depends(can_read),
) -> ClientCard:
    async with db_pool(request).acquire() as conn:
        card = await _card(conn, code, principal, items_limit, items_offset)
    # F-1: the version to send back in If-Match when updating the client.
    response.headers["ETag"] = _etag(card.client.version)
    return card


@router.get("/{code}/interventions", response_model=list[InterventionOut],
            summary="Every intervention of the client's dossiers (F-10)")
async def list_interventions(
    code: str, request: Request, principal: Principal = Depends(can_read)
) -> list[InterventionOut]:
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        return [InterventionOut(**dict(i)) for i in await store.interventions_of(conn, client["id"])]


@router.get("/{code}/communications", response_model=list[CommunicationOut],
            summary="The client's communication trace, with rendered content (F-23)")
async def list_communications(
    code: str, request: Request, principal: Principal = Depends(can_read)
) -> list[CommunicationOut]:
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        return [CommunicationOut(**dict(c)) for c in await store.communications_of(conn, client["id"])]


# ---- F-1: updating a client, with optimistic concurrency through ETag / If-Match ---------


def _etag(version: int) -> str:
    return f'"{version}"'


def _version_from_if_match(if_match: str | None) -> int:
    if if_match is None:
        raise ApiError(428, "If-Match", "send the ETag of the client card you read in If-Match")
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise ApiError(422, "If-Match", f"{if_match!r} is not an ETag of this API")
    return int(tag)


@router.patch("/{code}", response_model=ClientCard,
              summary="Update the client's attributes; If-Match with the card's ETag (F-1)",
              responses={409: {"description": "changed since read"}, 428: {"description": "If-Match missing"}})
async def update_client(
    code: str, body: ClientPatch, request: Request, response: Response,
    if_match: str | None = Header(default=None, description="the ETag of the card that was read"),
    principal: Principal = Depends(can_write),
) -> ClientCard:
    expected = _version_from_if_match(if_match)
    changes = body.model_dump(exclude={"comment"}, include=body.model_fields_set)
    for required in ("name", "locale", "tags"):
        if required in changes and changes[required] is None:
            raise ApiError(422, required, "must not be null")
    if not changes:
        raise ApiError(422, None, "nothing to change")
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        scenario = changes.get("scenario_code")
        if scenario is not None and not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM scenarios WHERE code = $1)", scenario
        ):
            raise ApiError(422, "scenario_code", f"no scenario with code {scenario!r}")
        try:
            await audit_store.update_client(
                conn, client_id=client["id"], code=code, expected_version=expected,
                changes=changes, actor=principal.actor, comment=body.comment,
            )
        except audit_store.StaleVersion as stale:
            raise ApiError(409, "If-Match", f"the client changed since it was read (version"
                           f" {expected}, now {stale.current}); read it again") from None
        card = await _card(conn, code, principal)
    response.headers["ETag"] = _etag(card.client.version)
    return card
