"""ERP import over HTTP (F-3): `POST /imports/{kind}` with the file as a multipart upload
(field `file`) or as the raw request body. Admins and managers only."""

import codecs
import io
import tempfile
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from relance.api.auth import Principal, Role
from relance.api.errors import ApiError
from relance_dossier.api.auth import require
from relance_dossier.domain.imports import (
    ImportFormat,
    ImportKind,
    ImportReport,
    check_columns,
    guess_format,
    read_file,
)
from relance_dossier.persistence.imports import run_import

router = APIRouter(prefix="/imports", tags=["imports"])

can_import = require(Role.ADMIN, Role.MANAGER)


class RowErrorOut(BaseModel):
    row: int
    field: str | None
    reason: str


class ImportReportOut(BaseModel):
    import_id: UUID
    kind: ImportKind
    format: ImportFormat
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    error_count: int
    errors: list[RowErrorOut]
    details: dict


def report_out(import_id: UUID, fmt: ImportFormat, report: ImportReport) -> ImportReportOut:
    return ImportReportOut(
        import_id=import_id, kind=report.kind, format=fmt, rows_read=report.rows_read,
        inserted=report.inserted, updated=report.updated, unchanged=report.unchanged,
        error_count=report.error_count,
        errors=[RowErrorOut(row=e.row, field=e.field, reason=e.reason) for e in report.errors],
        details=report.details,
    )


class _Upload:
    """The uploaded file on disk (issue 10): a multipart `file` part, spooled to disk by the
    form parser, or the raw body streamed to a temporary file under DATA_DIR/uploads. The
    size cap is enforced as the bytes arrive (api/limits.py)."""

    def __init__(self, file: BinaryIO, filename: str | None, content_type: str | None,
                 form=None) -> None:
        self.file, self.filename, self.content_type, self._form = file, filename, content_type, form

    async def close(self) -> None:
        if self._form is not None:
            await self._form.close()
        else:
            self.file.close()


async def _uploaded(request: Request) -> _Upload:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            await form.close()
            raise ApiError(422, "file", "a multipart field named 'file' holding the file is required")
        return _Upload(upload.file, upload.filename, upload.content_type, form)
    folder = Path(request.app.state.settings.data_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    spool = tempfile.TemporaryFile(dir=folder)
    try:
        async for chunk in request.stream():
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return _Upload(spool, None, content_type or None)


def _is_blank(file: BinaryIO) -> bool:
    """No character other than white space (and a UTF-8 BOM): read in chunks."""
    file.seek(0)
    while chunk := file.read(64 * 1024):
        if chunk.lstrip(b"\xef\xbb\xbf \t\r\n"):
            file.seek(0)
            return False
    file.seek(0)
    return True


@router.post(
    "/{kind}", response_model=ImportReportOut,
    summary="Import clients, items or payments from CSV or JSON (F-3)",
    description="Rows are upserted by their keys (client code; client, kind and number of an "
    "item; payment reference): importing the same file twice changes nothing. Every valid "
    "row is kept; each rejected row is reported with its row number, field and reason. CSV: "
    "a header row, `,` `;` or tab separated, tags as `a|b`. JSON: an array of objects or JSON "
    "Lines. The format comes from `format`, else the file name or content type.",
    # The body is read by `_uploaded` (streamed, no pydantic model): described here.
    openapi_extra={"requestBody": {
        "required": True,
        "description": "The file: a multipart upload (field `file`), or the raw CSV or JSON body.",
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "format": "binary",
                             "description": "The CSV or JSON file"}}},
                "encoding": {"file": {"contentType": "text/csv, application/json, application/x-ndjson"}},
            },
            "text/csv": {"schema": {"type": "string"},
                         "example": "code;name;currency\nC-ACME;Acme SA;EUR\n"},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}},
                                 "example": [{"code": "C-ACME", "name": "Acme SA", "currency": "EUR"}]},
        },
    }},
)
async def import_file(
    kind: ImportKind,
    request: Request,
    format: ImportFormat | None = Query(default=None, description="csv or json"),
    principal: Principal = Depends(can_import),
) -> ImportReportOut:
    upload = await _uploaded(request)
    try:
        if _is_blank(upload.file):
            raise ApiError(422, "file", "the file is empty")
        head = upload.file.read(64)
        upload.file.seek(0)
        fmt = format or guess_format(upload.filename, upload.content_type, head)
        _check_utf8(upload.file)
        # Read as it streams from disk: one row in memory at a time (JSON incrementally).
        stream = io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline="")
        parsed = read_file(stream, fmt)
        if fmt == "csv":
            check_columns(kind, parsed.columns)
        async with request.app.state.pool.acquire() as conn:
            import_id, report = await run_import(
                conn, kind, fmt, parsed.rows, actor=principal.actor, source=upload.filename,
                csv_body=parsed.csv_body,
            )
        stream.detach()
    finally:
        await upload.close()
    return report_out(import_id, fmt, report)


def _check_utf8(file: BinaryIO) -> None:
    """A bad encoding is one clear error before any row is read, not a failed import half
    way: checked chunk by chunk with an incremental decoder."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        while chunk := file.read(256 * 1024):
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise ApiError(422, "file", f"not UTF-8 text (byte {offset + exc.start})")
    finally:
        file.seek(0)

