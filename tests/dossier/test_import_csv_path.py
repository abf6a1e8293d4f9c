"""F-3: the CSV path of the items (PostgreSQL reads the file, SQL converts the clean rows,
Python checks the others) gives what the row-by-row path gives: the same items, the same
errors with their row, field and reason, the same counts; a file it cannot read as the csv
module does goes row by row."""

import io
from uuid import uuid4

import pytest

from relance_dossier.domain.imports import read_file
from relance_dossier.persistence import imports as import_persistence
from relance_dossier.persistence.imports import run_import

# Every kind of cell the fast SQL check must either convert exactly as Python does or
# leave to the full check: normalisations, French dates, decimal commas, bad values,
# repeated keys (of a clean row and of a normalised one), an unknown client, dates outside
# the SQL path's calendar.
ROWS = """client_code;kind;number;issue_date;due_date;amount;open_amount;currency
{p}-1;invoice;F-1;2026-01-02;2026-02-01;100.50;;EUR
{p}-1;Credit Note;A-1;;2026-02-01;12;3;
 {p}-1 ;invoice;F-2 ;02/01/2026;01/02/2026;12,50;12,5;eur
{p}-2;;F-3;2026-01-02;2026-02-30;10;;EUR
{p}-2;invoice;F-4;2026-01-02;2026-02-01;0;;EUR
{p}-2;invoice;F-5;2026-01-02;2026-02-01;-5;;EUR
{p}-2;invoice;F-6;2026-01-02;2026-02-01;1.234;;EUR
{p}-2;invoice;F-7;2026-01-02;2026-02-01;10;11;EUR
{p}-2;invoice;F-8;2026-01-02;2026-02-01;10;;EURO
{p}-1;invoice;F-1;2026-01-03;2026-02-03;7;;EUR
{p}-1;invoice; F-2;2026-01-03;2026-02-03;7;;EUR
{p}-2;invoice;;2026-01-02;2026-02-01;10;;EUR
{p}-X;invoice;F-9;2026-01-02;2026-02-01;10;;EUR
{p}-2;payment;F-10;2026-1-2;2026-02-01;١٢;;USD
{p}-2;bogus;F-11;2026-01-02;2026-W05-1;10.1;10.10;EUR
{p}-2;invoice;F-12;2026-01-02;2026-02-01;12345678901234567;;EUR
{p}-2;invoice;F-13;2026-01-02;2026-02-01;1234567890123456.99;0.01;EUR
{p}-2;invoice;F-14;1899-12-31;2250-01-01;5;;EUR
{p}-2;invoice;é-15;2026-01-02;2026-02-01;5;;Eur
"""


async def _clients(conn, p: str) -> None:
    text = f"code,name\n{p}-1,One\n{p}-2,Two\n"
    await run_import(conn, "clients", "csv", read_file(io.StringIO(text, newline=""), "csv").rows,
                     actor="test")


async def _import(conn, text: str, *, whole: bool):
    parsed = read_file(io.StringIO(text, newline=""), "csv")
    return (await run_import(conn, "items", "csv", parsed.rows, actor="test",
                             csv_body=parsed.csv_body if whole else None))[1]


async def _items(conn, p: str) -> list[tuple]:
    rows = await conn.fetch(
        "SELECT replace(c.code, $1, '') AS client, i.kind, i.number, i.issue_date, i.due_date,"
        " i.amount, i.open_amount, i.currency FROM items i JOIN clients c ON c.id = i.client_id"
        " WHERE c.code LIKE $1 || '-%' ORDER BY 1, 2, 3", p,
    )
    return [tuple(r) for r in rows]


def _spy(monkeypatch) -> list[bool]:
    taken: list[bool] = []
    stage = import_persistence._stage_items_csv

    async def spied(*args, **kwargs):
        taken.append(await stage(*args, **kwargs))
        return taken[-1]

    monkeypatch.setattr(import_persistence, "_stage_items_csv", spied)
    return taken


def _shown(report, p: str) -> tuple:
    errors = [(e.row, e.field, e.reason.replace(p, "P")) for e in report.errors]
    return (report.rows_read, report.inserted, report.updated, report.unchanged,
            report.error_count, errors)


@pytest.mark.integration
async def test_f3_the_csv_path_gives_the_items_and_errors_of_the_row_by_row_path(db, monkeypatch) -> None:
    whole, by_row = f"W{uuid4().hex[:8]}", f"R{uuid4().hex[:8]}"
    taken = _spy(monkeypatch)
    async with db.acquire() as conn:
        for p in (whole, by_row):
            await _clients(conn, p)
        fast = await _import(conn, ROWS.format(p=whole), whole=True)
        slow = await _import(conn, ROWS.format(p=by_row), whole=False)
        assert taken == [True]
        assert _shown(fast, whole) == _shown(slow, by_row)
        assert fast.inserted == 6 and fast.error_count == 13
        assert {(e.row, e.field, e.reason) for e in fast.errors} >= {
            (11, "number", "duplicates row 2 of this file"),
            (12, "number", "duplicates row 4 of this file"),
            (5, "due_date", "is not a valid calendar date"),
        }
        assert await _items(conn, whole) == await _items(conn, by_row)
        # Twice the same file: nothing changes, the same errors.
        again = await _import(conn, ROWS.format(p=whole), whole=True)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 6)
        assert again.errors == fast.errors


@pytest.mark.integration
@pytest.mark.parametrize("body, reason", [
    ('{p}-1,invoice,"F-1",2026-01-02,2026-02-01,10,,EUR\n', None),
    ("{p}-1,invoice,F-1,2026-01-02,2026-02-01,10,,EUR,extra\n", "has 9 cells where the header has 8"),
    ("{p}-1,invoice,F-1,2026-01-02,2026-02-01,10,,EUR\n\n", None),
])
async def test_f3_a_file_postgresql_would_read_otherwise_goes_row_by_row(db, monkeypatch, body, reason) -> None:
    p = f"Q{uuid4().hex[:8]}"
    header = "client_code,kind,number,issue_date,due_date,amount,open_amount,currency\n"
    good = "{p}-2,invoice,F-2,2026-01-02,2026-02-01,20,,EUR\n"
    taken = _spy(monkeypatch)
    async with db.acquire() as conn:
        await _clients(conn, p)
        report = await _import(conn, (header + good + body).format(p=p), whole=True)
        assert taken == [False]
        assert [e.reason for e in report.errors] == ([reason] if reason else [])
        assert report.inserted == (1 if reason else 2)
        assert [i[2] for i in await _items(conn, p)] == (["F-2"] if reason else ["F-1", "F-2"])
