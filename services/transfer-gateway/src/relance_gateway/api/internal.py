"""Internal reads for the platform's other services (never agencies): the dossier service
asks here whether an agency is registered and active before it creates a transfer to it
(F-27, F-31), and reads the documents agencies sent (F-41). Guarded by INTERNAL_API_TOKEN
when set; not in the public API document."""

from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from relance.api.errors import ApiError
from relance.api.internal import internal_caller
from relance_gateway.persistence import agencies, placements

router = APIRouter(prefix="/internal", dependencies=[Depends(internal_caller)],
                   include_in_schema=False)


class AgencyStatus(BaseModel):
    code: str
    name: str
    active: bool


@router.get("/agencies/{code}", response_model=AgencyStatus)
async def agency_status(code: str, request: Request) -> AgencyStatus:
    async with request.app.state.pool.acquire() as conn:
        row = await agencies.get_agency(conn, code)
    if row is None:
        raise ApiError(404, "code", f"no agency {code}")
    return AgencyStatus(code=row["code"], name=row["name"], active=row["active"])


@router.get("/agency-documents/{document_id}")
async def agency_document(document_id: UUID, request: Request) -> Response:
    """F-41: a document an agency sent, for the dossier service to copy into the client's files."""
    async with request.app.state.pool.acquire() as conn:
        row = await placements.agency_document(conn, document_id)
    if row is None:
        raise ApiError(404, "document_id", f"no agency document {document_id}")
    return Response(bytes(row["content"]), media_type=row["content_type"])
