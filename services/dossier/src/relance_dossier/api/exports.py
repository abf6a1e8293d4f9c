"""Exports (F-40): a search's results, the aging report and a client's statement as CSV or
XLSX, streamed (an agenda's export is beside the agenda, in `api/agenda.py`).

Every check (the format, the filters, the client and whether the caller may see it) is
made before the first byte, so a refusal is a 4xx with its field, never a cut-off file.
CSV is written chunk by chunk as the cursor reads; XLSX is written row by row in
XlsxWriter's constant-memory mode into a temporary file, then streamed. Totals are per
currency (F-43)."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import xlsxwriter
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from relance.api.auth import Principal
from relance.api.errors import ApiError
from relance_dossier.api.auth import can_read, client_or_404, db_pool
from relance_dossier.api.search import Selection, check_collector_code, parsed_codes, visibility_of
from relance_dossier.domain.aging import AGING_BUCKETS
from relance_dossier.domain.assignment import ClientCriteria
from relance_dossier.domain.exports import (
    AGING_COLUMNS,
    MEDIA_TYPES,
    SEARCH_COLUMNS,
    STATEMENT_COLUMNS,
    Column,
    ExportFormat,
    csv_value,
    file_name,
)
from relance_dossier.persistence import exports as store

router = APIRouter(tags=["exports"])

FORMAT_QUERY = Query(default=ExportFormat.CSV, description="csv or xlsx")
XLSX_READ_BYTES = 256 * 1024


def export_response(pool: asyncpg.Pool, sql: str, args: list[Any], columns: Sequence[Column],
            fmt: ExportFormat, name: str, sheet: str) -> StreamingResponse:
    body = _csv(pool, sql, args, columns) if fmt is ExportFormat.CSV else _xlsx(
        pool, sql, args, columns, sheet)
    return StreamingResponse(body, media_type=MEDIA_TYPES[fmt],
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _total_label(row: asyncpg.Record, columns: Sequence[Column]) -> dict[str, Any]:
    """A currency's total row: its label first, its currency and amounts, nothing else."""
    values = {c.key: row[c.key] if c.kind == "amount" or c.key == "currency" else None for c in columns}
    values[columns[0].key] = f"Total {row['currency']}"
    return values


async def _csv(pool: asyncpg.Pool, sql: str, args: list[Any],
               columns: Sequence[Column]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.title for c in columns])
    async for rows in store.chunks(pool, sql, args):
        for row in rows:
            values = _total_label(row, columns) if row["is_total"] else row
            writer.writerow([csv_value(values[c.key]) for c in columns])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # the header alone, when no row matched
        yield buffer.getvalue().encode()


async def _xlsx(pool: asyncpg.Pool, sql: str, args: list[Any], columns: Sequence[Column],
                sheet_name: str) -> AsyncIterator[bytes]:
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as file:
        # Times are written in UTC (the column says so): a spreadsheet has no time zones.
        workbook = xlsxwriter.Workbook(file.name, {"constant_memory": True, "remove_timezone": True})
        sheet = workbook.add_worksheet(sheet_name)
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format({"num_format": "#,##0.00"})
        money_bold = workbook.add_format({"num_format": "#,##0.00", "bold": True})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        moment = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        for col, column in enumerate(columns):
            sheet.write_string(0, col, column.title, bold)
            sheet.set_column(col, col, 14 if column.kind != "text" else 18)
        line = 1
        async for rows in store.chunks(pool, sql, args):
            for row in rows:
                total = row["is_total"]
                values = _total_label(row, columns) if total else row
                for col, column in enumerate(columns):
                    value = values[column.key]
                    if value is None:
                        continue
                    if column.kind == "amount":
                        sheet.write_number(line, col, float(Decimal(value)), money_bold if total else money)
                    elif column.kind in ("date", "datetime"):
                        sheet.write_datetime(line, col, value, day if column.kind == "date" else moment)
                    else:
                        sheet.write_string(line, col, str(value), bold if total else None)
                line += 1
        workbook.close()
        file.seek(0)
        while block := file.read(XLSX_READ_BYTES):
            yield block


class SearchExportIn(Selection):
    """The selection of a search (F-5): criteria, pasted codes, `mine`."""


@router.post("/clients/search/export", summary="A search's results as CSV or XLSX (F-40)",
             response_class=StreamingResponse,
             responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()},
                              "description": "one row per client and currency, then a total per currency"}})
async def export_search(
    body: SearchExportIn, request: Request, format: ExportFormat = FORMAT_QUERY,
    principal: Principal = Depends(can_read),
) -> StreamingResponse:
    codes = parsed_codes(body.codes)
    pool = db_pool(request)
    async with pool.acquire() as conn:
        await check_collector_code(conn, body.criteria, "criteria.collector_code")
    sql, args = store.search_query(body.criteria, codes, visibility_of(principal, body.mine))
    return export_response(pool, sql, args, SEARCH_COLUMNS, format,
                   file_name("clients", date.today(), format), "Clients")


class AgingRow(BaseModel):
    code: str | None = Field(description="The client; none on a currency's total row")
    name: str | None
    collector_code: str | None
    currency: str
    not_due: Decimal | None
    d1_30: Decimal | None
    d31_60: Decimal | None
    d61_90: Decimal | None
    d90_plus: Decimal | None
    total: Decimal
    is_total: bool


class AgingReport(BaseModel):
    on: date
    buckets: dict[str, str] = Field(description="Each bucket's key and its label")
    limit: int
    offset: int
    rows: list[AgingRow] = Field(description="Clients by code and currency, then one total per currency")


@router.get("/reports/aging",
            summary="The aging report: open balances by days past due, per client and currency (F-36, F-40)",
            response_model=AgingReport,
            responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()}}})
async def aging_report(
    request: Request,
    format: str = Query(default="json", description="json (one page), csv or xlsx (every row)"),
    on: date | None = Query(default=None, description="the day balances are aged on; default: today"),
    collector: str | None = Query(default=None, description="A collector code"),
    segment: str | None = None, country: str | None = None,
    mine: bool | None = None,
    limit: int = Query(default=100, ge=1, le=1000), offset: int = Query(default=0, ge=0),
    principal: Principal = Depends(can_read),
) -> Any:
    if format not in ("json", *ExportFormat):
        raise ApiError(422, "format", "json, csv or xlsx")
    criteria = ClientCriteria(collector_code=collector, segment=segment, country=country)
    day = on or date.today()
    pool = db_pool(request)
    sql, args = store.aging_query(criteria, visibility_of(principal, mine), day)
    async with pool.acquire() as conn:
        await check_collector_code(conn, criteria, "collector")
        if format == "json":
            rows = await store.first_rows(conn, sql, args, limit, offset)
            return AgingReport(on=day, buckets={b.key: b.label for b in AGING_BUCKETS}, limit=limit,
                               offset=offset, rows=[AgingRow(**dict(r)) for r in rows])
    fmt = ExportFormat(format)
    return export_response(pool, sql, args, AGING_COLUMNS, fmt, file_name("aging", day, fmt), "Aging")


@router.get("/clients/{code}/statement", summary="A client's statement of open items as CSV or XLSX (F-40)",
            response_class=StreamingResponse,
            responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()},
                             "description": "open items by currency and due date with the running "
                                            "balance, then the balance per currency"}})
async def client_statement(
    code: str, request: Request, format: ExportFormat = FORMAT_QUERY,
    principal: Principal = Depends(can_read),
) -> StreamingResponse:
    pool = db_pool(request)
    async with pool.acquire() as conn:
        client = await client_or_404(conn, code, principal)
    sql, args = store.statement_query(client["id"])
    return export_response(pool, sql, args, STATEMENT_COLUMNS, format,
                   file_name(f"statement-{code}", date.today(), format), "Statement")
