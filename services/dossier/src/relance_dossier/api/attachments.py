"""Files attached to a client (F-26): upload with an optional description, list,
download, delete (soft, audited). Size and content types are limited by settings."""

from pathlib import PurePath
from uuid import UUID

import anyio
import asyncpg
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile, status
from fastapi.responses import FileResponse

from relance.api.auth import Principal
from relance.api.errors import ApiError
from relance_dossier.api.auth import can_read, can_write, client_or_404, db_pool
from relance_dossier.api.models import AttachmentOut
from relance_dossier.persistence import attachments as store
from relance_dossier.settings import Settings

router = APIRouter(prefix="/clients/{code}/attachments", tags=["attachments"])


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _media_type(upload: UploadFile) -> str:
    """`text/plain; charset=utf-8` is a text/plain file: parameters do not change the type."""
    return (upload.content_type or "").split(";", 1)[0].strip().lower()


def _clean_filename(upload: UploadFile) -> str:
    # Keep only the last path component a browser may send; the stored path never uses it.
    name = PurePath((upload.filename or "").replace("\\", "/")).name.strip()
    if not name:
        raise ApiError(422, "file", "the file needs a name")
    if len(name) > 255:
        raise ApiError(422, "file", "the file name must be at most 255 characters")
    if "\x00" in name:
        raise ApiError(422, "file", "the file name must not contain a NUL character")
    return name


async def _attachment_or_404(conn: asyncpg.Connection, client_id: UUID, attachment_id: UUID) -> asyncpg.Record:
    row = await store.attachment_of_client(conn, client_id, attachment_id)
    if row is None:
        raise ApiError(404, "attachment_id", f"no attachment {attachment_id} on this client")
    return row


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AttachmentOut,
             summary="Attach a file to the client, with an optional description (F-26)",
             responses={413: {"description": "file too large"}, 415: {"description": "type not allowed"}})
async def upload_attachment(
    code: str, request: Request,
    file: UploadFile = File(..., description="the file (multipart/form-data)"),
    description: str | None = Form(default=None, max_length=2000),
    item_number: str | None = Form(default=None, max_length=100, description=(
        "F-41: the number of the client's item the file concerns (an invoice's copy); an "
        "agency receives it with that item when the item is placed")),
    principal: Principal = Depends(can_write),
) -> AttachmentOut:
    settings = _settings(request)
    async with db_pool(request).acquire() as conn:
        # A client the caller may not see answers 404 whatever the file.
        client = await client_or_404(conn, code, principal)
        item_id = None
        if item_number is not None and item_number.strip():
            item_id = await conn.fetchval(
                "SELECT id FROM items WHERE client_id = $1 AND number = $2"
                " ORDER BY kind <> 'invoice', kind LIMIT 1",
                client["id"], item_number.strip())
            if item_id is None:
                raise ApiError(422, "item_number", f"the client has no item {item_number.strip()!r}")
    media_type = _media_type(file)
    allowed = [t.lower() for t in settings.attachment_content_types]
    if media_type not in allowed:
        raise ApiError(415, "file", f"content type {media_type or 'unknown'!r} is not allowed;"
                       f" allowed: {', '.join(allowed)}")
    filename = _clean_filename(file)
    if description is not None and "\x00" in description:
        raise ApiError(422, "description", "must not contain a NUL character")
    description = (description or "").strip() or None
    attachment_id = store.new_attachment_id()
    storage_path = store.storage_path_for(client["id"], attachment_id)
    target = store.resolve_in_data_dir(settings.data_dir, storage_path)
    # The copy runs without holding a database connection: files can be large.
    try:
        size, sha256 = await anyio.to_thread.run_sync(
            store.store_file, file.file, target, settings.attachment_max_bytes
        )
    except store.TooLarge:
        raise ApiError(413, "file", f"the file is larger than the limit of"
                       f" {settings.attachment_max_bytes} bytes") from None
    if size == 0:
        await anyio.to_thread.run_sync(store.remove_file, target)
        raise ApiError(422, "file", "the file is empty")
    try:
        async with db_pool(request).acquire() as conn:
            row = await store.insert_attachment(
                conn, attachment_id=attachment_id, client_id=client["id"], filename=filename,
                content_type=media_type, size_bytes=size, sha256=sha256,
                description=description, storage_path=storage_path, actor=principal.actor,
                item_id=item_id,
            )
    except BaseException:
        # No row without its file, and no file without its row.
        await anyio.to_thread.run_sync(store.remove_file, target)
        raise
    return AttachmentOut(**dict(row))


@router.get("", response_model=list[AttachmentOut], summary="The client's files, newest first (F-26)")
async def list_attachments(
    code: str, request: Request, principal: Principal = Depends(can_read)
) -> list[AttachmentOut]:
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        return [AttachmentOut(**dict(a)) for a in await store.attachments_of(conn, client["id"])]


@router.get("/{attachment_id}", response_model=AttachmentOut, summary="One file's description (F-26)")
async def get_attachment(
    code: str, attachment_id: UUID, request: Request, principal: Principal = Depends(can_read)
) -> AttachmentOut:
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        return AttachmentOut(**dict(await _attachment_or_404(conn, client["id"], attachment_id)))


@router.get("/{attachment_id}/content", response_class=FileResponse,
            summary="Download the file, under its original name (F-26)")
async def download_attachment(
    code: str, attachment_id: UUID, request: Request, principal: Principal = Depends(can_read)
) -> FileResponse:
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        row = await _attachment_or_404(conn, client["id"], attachment_id)
    path = store.resolve_in_data_dir(_settings(request).data_dir, row["storage_path"])
    if not await anyio.Path(path).is_file():
        raise ApiError(404, "attachment_id", "the stored file is missing")
    return FileResponse(path, media_type=row["content_type"], filename=row["filename"])


@router.delete("/{attachment_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a file from the client (soft delete, audited) (F-26, F-33)")
async def delete_attachment(
    code: str, attachment_id: UUID, request: Request,
    comment: str | None = Query(default=None, max_length=2000, description="why, for the audit trail"),
    principal: Principal = Depends(can_write),
) -> Response:
    async with db_pool(request).acquire() as conn:
        client = await client_or_404(conn, code, principal)
        deleted = await store.delete_attachment(
            conn, client_id=client["id"], attachment_id=attachment_id, actor=principal.actor,
            comment=comment,
        )
    if not deleted:
        raise ApiError(404, "attachment_id", f"no attachment {attachment_id} on this client")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
