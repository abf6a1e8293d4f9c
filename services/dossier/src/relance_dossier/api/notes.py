"""The client's note pad (F-25): every collector who can see the client reads it and
adds to it; notes are never edited, so the pad stays a faithful record."""

from fastapi import APIRouter, Depends, Request, status
from pydantic import Field

from relance.api.auth import Principal
from relance.api.errors import ApiError
from relance_dossier.api.auth import can_read, can_write, client_or_404, db_pool
from relance_dossier.api.models import ApiInput, NoteOut
from relance_dossier.persistence import notes as store

router = APIRouter(prefix="/clients/{code}/notes", tags=["notes"])


class NoteIn(ApiInput):
    text: str = Field(min_length=1, max_length=10_000)


@router.get("", response_model=list[NoteOut], summary="The client's note pad, newest first (F-25)")
async def list_notes(code: str, request: Request, principal: Principal = Depends(can_read)) -> list[NoteOut]:
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        return [NoteOut(**dict(n)) for n in await store.notes_of(conn, client["id"])]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NoteOut,
             summary="Add a note to the client's note pad (F-25)")
async def add_note(
    code: str, body: NoteIn, request: Request, principal: Principal = Depends(can_write)
) -> NoteOut:
    if not body.text.strip():
        raise ApiError(422, "text", "must not be blank")
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        note = await store.add_note(conn, client_id=client["id"], text=body.text, author=principal.actor)
        return NoteOut(**dict(note))
