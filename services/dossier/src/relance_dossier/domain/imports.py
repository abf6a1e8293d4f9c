"""ERP import (F-3): reading CSV and JSON files and checking each row, without I/O.

A file is read as a stream of `(row, raw values)`; each row is checked and converted to
the typed record that the bulk path copies into its staging table, or answered with
`RowError`s (row, field, reason). A bad row never stops the import: every valid row is
kept. Checks that need the database (unknown client, unknown collector code, a payment
reference already applied) are made set-based in SQL by the persistence layer.

Row numbers are what a person sees: in CSV the header is row 1 and the first record row 2
(as a spreadsheet shows it); in JSON the record's 1-based position in the array (or line
in a JSON Lines file)."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TextIO, TypeVar

import ijson

from relance.validation import CODE_MAX_LENGTH, CODE_RULE, is_code
from relance_dossier.domain.accounts import DomainError

ImportKind = Literal["clients", "items", "payments"]
ImportFormat = Literal["csv", "json"]
IMPORT_KINDS: tuple[ImportKind, ...] = ("clients", "items", "payments")
IMPORT_FORMATS: tuple[ImportFormat, ...] = ("csv", "json")
# One checked row, in the column order of its kind's staging table.
Record = tuple[Any, ...]
T = TypeVar("T")

# A report keeps every count but lists at most this many row errors (a broken nightly
# file must not produce a response of hundreds of megabytes).
MAX_REPORTED_ERRORS = 10_000

CURRENCY = re.compile(r"^[A-Z]{3}$")
AMOUNT = re.compile(r"^\d{1,16}(\.\d{1,2})?$")  # numeric(18, 2)
FRENCH_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
ITEM_KINDS = ("invoice", "credit_note", "payment")
# A payment may also settle a late fee Relance charged (F-38): the ERP imports no fees,
# but it records what the client paid on them.
PAYABLE_KINDS = (*ITEM_KINDS, "fee")
TAG_SEPARATOR = "|"  # CSV cells hold several tags as `a|b|c`; JSON uses a list


class ImportFileError(DomainError):
    """The file as a whole cannot be read (encoding, syntax, missing columns)."""


@dataclass(frozen=True)
class RowError:
    row: int
    field: str | None
    reason: str


@dataclass
class ImportReport:
    kind: ImportKind
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add_errors(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            self.error_count += 1
            if len(self.errors) < MAX_REPORTED_ERRORS:
                self.errors.append(error)

    def sort_errors(self) -> None:
        self.errors.sort(key=lambda e: (e.row, e.field or ""))


# ---- columns --------------------------------------------------------------------------

@dataclass(frozen=True)
class KindSpec:
    columns: tuple[str, ...]
    required: tuple[str, ...]


SPECS: dict[ImportKind, KindSpec] = {
    "clients": KindSpec(
        columns=("code", "name", "country", "segment", "category", "tags", "risk",
                 "collector_code", "scenario_code", "locale"),
        required=("code", "name"),
    ),
    "items": KindSpec(
        columns=("client_code", "kind", "number", "issue_date", "due_date", "amount",
                 "open_amount", "currency"),
        required=("client_code", "number", "due_date", "amount"),
    ),
    "payments": KindSpec(
        columns=("client_code", "item_kind", "item_number", "amount", "date", "reference"),
        required=("client_code", "item_number", "amount", "date", "reference"),
    ),
}


def normalize_column(name: str) -> str:
    """`Due Date`, `due-date` and ` DUE_DATE ` all name `due_date`."""
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff").lower())


def guess_kind(columns: Iterable[str]) -> ImportKind:
    """The kind of a file from its columns, when the caller did not say it."""
    names = {normalize_column(c) for c in columns}
    if "reference" in names and "item_number" in names:
        return "payments"
    if "number" in names and "client_code" in names:
        return "items"
    if "code" in names and "name" in names:
        return "clients"
    raise ImportFileError(
        "kind", "cannot tell clients, items or payments from the columns; give the kind"
    )


def guess_format(filename: str | None, content_type: str | None, head: bytes) -> ImportFormat:
    """The format from the file name, else the content type, else the first character."""
    name = (filename or "").lower()
    if name.endswith((".json", ".jsonl", ".ndjson")):
        return "json"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    media = (content_type or "").split(";")[0].strip().lower()
    if media in ("application/json", "application/x-ndjson", "application/jsonl"):
        return "json"
    if media in ("text/csv", "text/tab-separated-values"):
        return "csv"
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if first in (b"[", b"{") else "csv"


def check_columns(kind: ImportKind, columns: Iterable[str]) -> None:
    present = set(columns)
    missing = [c for c in SPECS[kind].required if c not in present]
    if missing:
        raise ImportFileError(missing[0], f"required column missing (required: {', '.join(SPECS[kind].required)})")


# ---- readers --------------------------------------------------------------------------

RawRow = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class CsvBody:
    """Where a CSV file's records begin, for a reader that hands them to PostgreSQL whole
    instead of row by row (F-3: the nightly million items)."""

    stream: TextIO
    start: int  # `stream.tell()` just after the header
    delimiter: str
    columns: list[str]


@dataclass
class ParsedFile:
    columns: list[str]  # normalized names, in file order (JSON: keys of the first record)
    rows: Iterator[RawRow]
    # Set for a seekable CSV stream: `rows` is then read only if the bulk path declines.
    csv_body: CsvBody | None = None


def _sniff_delimiter(header_line: str) -> str:
    """ERP exports use `,` or `;` (French locales) or tabs: the header says which."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(stream: TextIO) -> ParsedFile:
    header_line = stream.readline()
    if not header_line.strip():
        raise ImportFileError("file", "empty file: a header row is expected")
    delimiter = _sniff_delimiter(header_line)
    header = next(csv.reader([header_line], delimiter=delimiter))
    columns = [normalize_column(c) for c in header]
    duplicated = {c for c in columns if columns.count(c) > 1 and c}
    if duplicated:
        raise ImportFileError(sorted(duplicated)[0], "column appears twice in the header")

    def rows() -> Iterator[RawRow]:
        reader = csv.reader(stream, delimiter=delimiter)
        width = len(columns)
        for row_no, values in enumerate(reader, start=2):
            if not values or (len(values) == 1 and not values[0].strip()):
                continue  # blank line
            if len(values) != width:
                yield row_no, {"__error__": f"has {len(values)} cells where the header has {width}"}
                continue
            yield row_no, dict(zip(columns, values, strict=True))

    body = CsvBody(stream, stream.tell(), delimiter, columns) if stream.seekable() else None
    return ParsedFile(columns, rows(), body)


def read_json(stream: TextIO) -> ParsedFile:
    """A JSON array of objects, or JSON Lines (one object per line)."""
    head = stream.read(1)
    while head and head.isspace():
        head = stream.read(1)
    if not head:
        raise ImportFileError("file", "empty file: a JSON array of records is expected")
    if head == "[":
        # Issue 10: parsed incrementally (one record in memory at a time), never the whole
        # array: a nightly file of a million items is read as it streams from disk.
        numbered: Iterator[tuple[int, Any]] = _json_array(_Utf8Reader(head, stream))
    else:
        numbered = _json_lines(head + stream.readline(), stream)
    first = next(numbered, None)
    if first is None:
        return ParsedFile([], iter(()))
    columns = [normalize_column(k) for k in first[1]] if isinstance(first[1], dict) else []

    def rows() -> Iterator[RawRow]:
        for row_no, record in _chain(first, numbered):
            if isinstance(record, str):  # a JSON Lines line that did not parse
                yield row_no, {"__error__": record}
            elif not isinstance(record, dict):
                yield row_no, {"__error__": "a record must be a JSON object"}
            else:
                yield row_no, {normalize_column(k): v for k, v in record.items()}

    return ParsedFile(columns, rows())


class _Utf8Reader:
    """The bytes ijson reads, from a text stream whose first characters were consumed."""

    def __init__(self, head: str, stream: TextIO) -> None:
        self._head, self._stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # ijson probes the reader's type with read(0)
        text = self._stream.read(size if size is None or size < 0 else max(size - len(self._head), 1))
        text, self._head = self._head + text, ""
        return text.encode("utf-8")


def _json_array(reader: _Utf8Reader) -> Iterator[tuple[int, Any]]:
    try:
        yield from enumerate(ijson.items(reader, "item", use_float=True), start=1)
    except ijson.JSONError as exc:
        raise ImportFileError("file", f"invalid JSON: {exc}") from None


def _json_lines(first_line: str, stream: TextIO) -> Iterator[tuple[int, Any]]:
    for row_no, line in enumerate(_chain(first_line, stream), start=1):
        if not line.strip():
            continue
        try:
            yield row_no, json.loads(line)
        except json.JSONDecodeError as exc:
            yield row_no, f"invalid JSON: {exc.msg}"


def _chain(first: T, rest: Iterable[T]) -> Iterator[T]:
    yield first
    yield from rest


def read_file(stream: TextIO, fmt: ImportFormat) -> ParsedFile:
    return read_csv(stream) if fmt == "csv" else read_json(stream)


# ---- values ---------------------------------------------------------------------------

class _Invalid(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _text(value: Any, *, max_length: int = 500) -> str | None:
    if value is None:
        return None
    if type(value) is str:
        text: str = value
    elif isinstance(value, (dict, list, bool)):
        raise _Invalid("must be a text value")
    else:
        text = str(value)
    text = text.strip()
    if not text:
        return None
    if len(text) > max_length:
        raise _Invalid(f"must be at most {max_length} characters")
    if "\x00" in text:
        raise _Invalid("must not contain a NUL character")
    return text


def parse_amount(value: Any) -> Decimal | None:
    """`1200.50`, `1200,50` (decimal comma) or a JSON number; at most 2 decimals."""
    if type(value) is str and AMOUNT.fullmatch(value):
        return Decimal(value)  # the common case, kept cheap for million-row files
    if isinstance(value, bool):
        raise _Invalid("must be an amount such as 1200.50")
    if isinstance(value, (int, float)):
        value = repr(value) if isinstance(value, float) else str(value)
    text = _text(value, max_length=40)
    if text is None:
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    if text.startswith("-"):
        raise _Invalid("must not be negative")
    if not AMOUNT.fullmatch(text):
        raise _Invalid("must be an amount such as 1200.50 (at most 2 decimals)")
    try:
        return Decimal(text)
    except InvalidOperation:  # the pattern already guarantees a number
        raise _Invalid("must be an amount such as 1200.50") from None


def parse_date(value: Any) -> date | None:
    """ISO `2026-11-23`, or the French `23/11/2026`."""
    if type(value) is str and len(value) == 10 and value[4] == "-":
        try:
            return date.fromisoformat(value)  # the common case, kept cheap
        except ValueError:
            pass
    text = _text(value, max_length=40)
    if text is None:
        return None
    try:
        if match := FRENCH_DATE.match(text):
            day, month, year = match.groups()
            return date(int(year), int(month), int(day))
        if len(text) == 10 and text[4] == "-":
            return date.fromisoformat(text)
    except ValueError:
        raise _Invalid("is not a valid calendar date") from None
    raise _Invalid("must be a date as YYYY-MM-DD or DD/MM/YYYY")


def parse_item_kind(value: Any, kinds: tuple[str, ...] = ITEM_KINDS) -> str | None:
    text = _text(value, max_length=40)
    if text is None or text in kinds:
        return text
    kind = normalize_column(text)
    if kind not in kinds:
        raise _Invalid(f"must be one of {', '.join(kinds)}")
    return kind


def parse_payable_kind(value: Any) -> str | None:
    return parse_item_kind(value, PAYABLE_KINDS)


def parse_tags(value: Any) -> list[str] | None:
    if value is None:
        return None
    parts = value if isinstance(value, list) else str(value).split(TAG_SEPARATOR)
    tags = [t for t in (_text(p, max_length=100) for p in parts) if t]
    return tags or None


# ---- rows -----------------------------------------------------------------------------

def duplicate_reason(first_row: int) -> str:
    return f"duplicates row {first_row} of this file"


class RowChecker:
    """Checks the rows of one file, in order: converts each to its staging record, or
    answers its errors. It remembers the keys already seen, so a key that appears twice
    in one file is an error on its second row (the first one is imported)."""

    kind: ImportKind
    stage_columns: tuple[str, ...]

    def __init__(self) -> None:
        self._first_row_of: dict[Any, int] = {}

    def check(self, row_no: int, raw: dict[str, Any]) -> Record | list[RowError]:
        record = self.fast_record(row_no, raw)
        if record is not None:
            first = self._first_row_of.setdefault(self.fast_key(record), row_no)
            if first == row_no:
                return record
        return self._check(row_no, raw)

    def fast_record(self, row_no: int, raw: dict[str, Any]) -> Record | None:
        """The record of a row whose every cell is already clean and canonical, or None to
        let the full check say exactly what is wrong. A nightly million-row file is made of
        such rows, and this path costs a fraction of the full one."""
        return None

    def fast_key(self, record: Record) -> Any:
        raise NotImplementedError

    def convert(self, row_no: int, raw: dict[str, Any]) -> Record | list[RowError]:
        """The full check of one row without the repeated-key rule: for a caller that
        finds repeated keys itself, over the whole file (the CSV path of the items)."""
        values = self._values(row_no, raw)
        return self.record(row_no, values) if isinstance(values, dict) else values

    def _check(self, row_no: int, raw: dict[str, Any]) -> Record | list[RowError]:
        values = self._values(row_no, raw)
        if not isinstance(values, dict):
            return values
        key = self.key(values)
        first = self._first_row_of.setdefault(key, row_no)
        if first != row_no:
            return [RowError(row_no, self.key_field, duplicate_reason(first))]
        return self.record(row_no, values)

    def _values(self, row_no: int, raw: dict[str, Any]) -> dict[str, Any] | list[RowError]:
        if "__error__" in raw:
            return [RowError(row_no, None, raw["__error__"])]
        values: dict[str, Any] = {}
        errors: list[RowError] = []
        get = raw.get
        for name, parse in self.parsers.items():
            try:
                values[name] = parse(get(name))
            except _Invalid as invalid:
                errors.append(RowError(row_no, name, invalid.reason))
        for name in SPECS[self.kind].required:
            if values.get(name) is None and name in values:
                errors.append(RowError(row_no, name, "is required"))
        if not errors:
            errors += self.check_rules(row_no, values)
        return errors or values

    # Subclasses say how each column is read, which rules span columns, and the key.
    parsers: dict[str, Any]
    key_field: str

    def check_rules(self, row_no: int, values: dict[str, Any]) -> list[RowError]:
        return []

    def key(self, values: dict[str, Any]) -> Any:
        raise NotImplementedError

    def record(self, row_no: int, values: dict[str, Any]) -> Record:
        raise NotImplementedError


def _code(value: Any) -> str | None:
    text = _text(value, max_length=CODE_MAX_LENGTH)
    if text is not None and not is_code(text):
        raise _Invalid(CODE_RULE)
    return text


def _currency(value: Any) -> str | None:
    text = _text(value, max_length=3)
    if text is None:
        return None
    text = text.upper()
    if not CURRENCY.fullmatch(text):
        raise _Invalid("must be a 3-letter currency code such as EUR")
    return text


def _country(value: Any) -> str | None:
    text = _text(value, max_length=2)
    return text.upper() if text else None


def _bounded(max_length: int) -> Callable[[Any], str | None]:
    return lambda value: _text(value, max_length=max_length)


class ClientRows(RowChecker):
    kind = "clients"
    key_field = "code"
    stage_columns = ("row_no", "code", "name", "country", "segment", "category", "tags",
                     "risk", "collector_code", "scenario_code", "locale")
    parsers = {
        "code": _code,
        "name": _bounded(300),
        "country": _country,
        "segment": _bounded(100),
        "category": _bounded(100),
        "tags": parse_tags,
        "risk": _bounded(50),
        "collector_code": _bounded(100),
        "scenario_code": _bounded(100),
        "locale": _bounded(10),
    }

    def key(self, values: dict[str, Any]) -> Any:
        return values["code"]

    def record(self, row_no: int, v: dict[str, Any]) -> Record:
        return (row_no, v["code"], v["name"], v["country"], v["segment"], v["category"],
                v["tags"], v["risk"], v["collector_code"], v["scenario_code"], v["locale"])


class ItemRows(RowChecker):
    kind = "items"
    key_field = "number"
    stage_columns = ("row_no", "client_code", "kind", "number", "issue_date", "due_date",
                     "amount", "open_amount", "currency")
    parsers = {
        "client_code": _code,
        "kind": parse_item_kind,
        "number": _bounded(100),
        "issue_date": parse_date,
        "due_date": parse_date,
        "amount": parse_amount,
        "open_amount": parse_amount,
        "currency": _currency,
    }

    def check_rules(self, row_no: int, v: dict[str, Any]) -> list[RowError]:
        errors = []
        if v["amount"] is not None and v["amount"] == 0:
            errors.append(RowError(row_no, "amount", "must be greater than 0"))
        elif v["open_amount"] is not None and v["open_amount"] > v["amount"]:  # F-2
            errors.append(RowError(row_no, "open_amount", "must not exceed the amount"))
        return errors

    def key(self, v: dict[str, Any]) -> Any:
        return (v["client_code"], v["kind"] or "invoice", v["number"])

    def fast_key(self, record: Record) -> Any:
        return record[1:4]

    def fast_record(self, row_no: int, raw: dict[str, Any]) -> Record | None:
        get = raw.get
        client_code, number, due, amount = get("client_code"), get("number"), get("due_date"), get("amount")
        kind, issued, open_amount, currency = get("kind"), get("issue_date"), get("open_amount"), get("currency")
        try:
            if not (type(client_code) is str and is_code(client_code)
                    and type(number) is str and 0 < len(number) <= 100 and number == number.strip()
                    and "\x00" not in number
                    and type(due) is str and len(due) == 10 and due[4] == "-"
                    and type(amount) is str and AMOUNT.fullmatch(amount)):
                return None
            kind = kind or "invoice"
            if kind not in ITEM_KINDS:
                return None
            if issued:
                if type(issued) is not str or len(issued) != 10 or issued[4] != "-":
                    return None
                issued = date.fromisoformat(issued)
            else:
                issued = None
            amount = Decimal(amount)
            if not amount:
                return None
            if open_amount:
                if type(open_amount) is not str or not AMOUNT.fullmatch(open_amount):
                    return None
                open_amount = Decimal(open_amount)
                if open_amount > amount:
                    return None
            else:
                open_amount = None
            if currency:
                if type(currency) is not str or not CURRENCY.fullmatch(currency):
                    return None
            else:
                currency = "EUR"
            return (row_no, client_code, kind, number, issued, date.fromisoformat(due), amount,
                    open_amount, currency)
        except ValueError:  # a date such as 2026-02-30: the full check names it
            return None

    def record(self, row_no: int, v: dict[str, Any]) -> Record:
        return (row_no, v["client_code"], v["kind"] or "invoice", v["number"], v["issue_date"],
                v["due_date"], v["amount"], v["open_amount"], v["currency"] or "EUR")


class PaymentRows(RowChecker):
    kind = "payments"
    key_field = "reference"
    stage_columns = ("row_no", "client_code", "item_kind", "item_number", "amount", "paid_on",
                     "reference")
    parsers = {
        "client_code": _code,
        "item_kind": parse_payable_kind,
        "item_number": _bounded(100),
        "amount": parse_amount,
        "date": parse_date,
        "reference": _bounded(200),
    }

    def check_rules(self, row_no: int, v: dict[str, Any]) -> list[RowError]:
        if v["amount"] == 0:
            return [RowError(row_no, "amount", "must be greater than 0")]
        return []

    def key(self, v: dict[str, Any]) -> Any:
        return v["reference"]

    def record(self, row_no: int, v: dict[str, Any]) -> Record:
        return (row_no, v["client_code"], v["item_kind"] or "invoice", v["item_number"],
                v["amount"], v["date"], v["reference"])


CHECKERS: dict[ImportKind, type[RowChecker]] = {
    "clients": ClientRows,
    "items": ItemRows,
    "payments": PaymentRows,
}


def row_checker(kind: ImportKind) -> RowChecker:
    return CHECKERS[kind]()
