"""Exports (F-40): the columns of each export and the file it is written as, for a search's
results, an agenda, the aging report and a client's statement. Pure: the rows come from SQL
(`persistence/exports.py`), the files are written by `api/exports.py`.

CSV is for machines: amounts with a dot and two decimals, dates in ISO 8601, UTF-8. XLSX is
for people: amounts as numbers, dates as dates, a header row, a totals row per currency
(F-43: amounts of two currencies are never added)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

from relance_dossier.domain.aging import AGING_BUCKETS


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

ColumnKind = Literal["text", "amount", "date", "datetime"]


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # the SQL row's column
    title: str
    kind: ColumnKind = "text"


SEARCH_COLUMNS: tuple[Column, ...] = (
    Column("code", "Client code"), Column("name", "Name"), Column("country", "Country"),
    Column("segment", "Segment"), Column("category", "Category"), Column("risk", "Risk"),
    Column("collector_code", "Collector"), Column("currency", "Currency"),
    Column("balance", "Balance", "amount"),
)

AGING_COLUMNS: tuple[Column, ...] = (
    Column("code", "Client code"), Column("name", "Name"), Column("collector_code", "Collector"),
    Column("currency", "Currency"),
    *(Column(b.key, b.label, "amount") for b in AGING_BUCKETS),
    Column("total", "Total", "amount"),
)

STATEMENT_COLUMNS: tuple[Column, ...] = (
    Column("number", "Number"), Column("kind", "Kind"), Column("issue_date", "Issue date", "date"),
    Column("due_date", "Due date", "date"), Column("currency", "Currency"),
    Column("amount", "Amount", "amount"), Column("open_amount", "Open amount", "amount"),
    Column("balance", "Running balance", "amount"),
)


AGENDA_COLUMNS: tuple[Column, ...] = (
    Column("due_at", "Due (UTC)", "datetime"), Column("priority", "Priority"),
    Column("action_type", "Action"), Column("mode", "Mode"), Column("kind", "Kind"),
    Column("status", "Status"), Column("label", "Label"), Column("client_code", "Client code"),
    Column("client_name", "Client"), Column("collector_code", "Collector"), Column("comment", "Comment"),
)


def file_name(subject: str, on: date, fmt: ExportFormat) -> str:
    """`aging-2026-12-01.xlsx`, `statement-C-ACME-2026-12-01.csv`: what the file is and the
    day it was taken, safe in a Content-Disposition header."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in subject)
    return f"{safe}-{on.isoformat()}.{fmt.value}"


def csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
