"""Internal reads for the transfer gateway (never agencies or browsers): the file of a
placed transfer's client that an agency asks for through the gateway's signed API
(F-41). Guarded by INTERNAL_API_TOKEN when set; not in the public API document."""

from uuid import UUID

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from relance.api.errors import ApiError
from relance.api.internal import internal_caller
from relance_dossier.api.auth import db_pool
from relance_dossier.persistence import attachments, placements

router = APIRouter(prefix="/internal", dependencies=[Depends(internal_caller)],
                   include_in_schema=False)


@router.get("/transfers/{transfer_id}/documents/{document_id}", response_class=FileResponse)
async def placement_document(transfer_id: UUID, document_id: UUID, request: Request) -> FileResponse:
    """Only a file of the transfer's own client, once placed, and not deleted since."""
    async with db_pool(request).acquire() as conn:
        row = await placements.document_of_placement(conn, transfer_id, document_id)
    if row is None:
        raise ApiError(404, "document_id", "no such document on this placement")
    path = attachments.resolve_in_data_dir(request.app.state.settings.data_dir, row["storage_path"])
    if not await anyio.Path(path).is_file():
        raise ApiError(404, "document_id", "the stored file is missing")
    return FileResponse(path, media_type=row["content_type"], filename=row["filename"])
