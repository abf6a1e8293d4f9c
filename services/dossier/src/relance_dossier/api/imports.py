"""ERP import over HTTP (F-3): `POST /imports/{kind}` with the file as a multipart upload
(field `file`) or as the raw request body. Admins and managers only."""

import codecs
import io
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


async def _uploaded(request: Request) -> tuple[bytes, str | None, str | None]:
    """(content, file name, content type) from a multipart `file` field or the raw body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "file", "a multipart field named 'file' holding the file is required")
        return await upload.read(), upload.filename, upload.content_type
    return await request.body(), None, content_type or None


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
    content, filename, content_type = await _uploaded(request)
    if not content.strip():
        raise ApiError(422, "file", "the file is empty")
    fmt = format or guess_format(filename, content_type, content[:64])
    stream = _text_stream(content)
    parsed = read_file(stream, fmt)
    if fmt == "csv":
        check_columns(kind, parsed.columns)
    async with request.app.state.pool.acquire() as conn:
        import_id, report = await run_import(
            conn, kind, fmt, parsed.rows, actor=principal.actor, source=filename,
        )
    return report_out(import_id, fmt, report)


def _text_stream(content: bytes) -> io.TextIOBase:
    try:
        # Decoding up front answers a bad encoding as one clear error, not a failed row.
        text = codecs.decode(content, "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(422, "file", f"not UTF-8 text (byte {exc.start})")
    return io.StringIO(text, newline="")

