"""F-3 ERP import: reading CSV and JSON files and checking rows, without a database."""

import io
import json
from datetime import date
from decimal import Decimal

import pytest

from relance_dossier.domain.imports import (
    ImportFileError,
    RowError,
    check_columns,
    guess_format,
    guess_kind,
    read_file,
    row_checker,
)


def checked(kind: str, text: str, fmt: str = "csv") -> tuple[list[tuple], list[RowError]]:
    parsed = read_file(io.StringIO(text, newline=""), fmt)
    checker = row_checker(kind)
    records, errors = [], []
    for row_no, raw in parsed.rows:
        result = checker.check(row_no, raw)
        if isinstance(result, tuple):
            records.append(result)
        else:
            errors += result
    return records, errors


def test_f3_item_row_becomes_a_typed_staging_record_with_defaults():
    records, errors = checked(
        "items", "client_code,number,due_date,amount\nC-1,F-100,2026-03-31,1200.50\n"
    )
    assert errors == []
    assert records == [
        (2, "C-1", "invoice", "F-100", None, date(2026, 3, 31), Decimal("1200.50"), None, "EUR")
    ]


def test_f3_semicolon_csv_with_spreadsheet_headers_french_dates_and_decimal_commas():
    text = "Client Code;Kind;Number;Issue-Date;DUE DATE;Amount;Open Amount;Currency\n" \
           "C-1;credit note;A-1;01/02/2026;28/02/2026;1200,50;100,00;eur\n"
    records, errors = checked("items", text)
    assert errors == []
    assert records == [(2, "C-1", "credit_note", "A-1", date(2026, 2, 1), date(2026, 2, 28),
                        Decimal("1200.50"), Decimal("100.00"), "EUR")]


@pytest.mark.parametrize(
    ("cells", "field", "reason"),
    [
        ("C-1,F-1,2026-02-30,10", "due_date", "is not a valid calendar date"),
        ("C-1,F-1,March 3rd,10", "due_date", "must be a date as YYYY-MM-DD or DD/MM/YYYY"),
        ("C-1,F-1,2026-03-01,-10", "amount", "must not be negative"),
        ("C-1,F-1,2026-03-01,10.123", "amount", "must be an amount such as 1200.50 (at most 2 decimals)"),
        ("C-1,F-1,2026-03-01,ten", "amount", "must be an amount such as 1200.50 (at most 2 decimals)"),
        ("C-1,F-1,2026-03-01,0", "amount", "must be greater than 0"),
        ("C-1,F-1,2026-03-01,", "amount", "is required"),
        ("C 1,F-1,2026-03-01,10", "client_code", "may contain only letters, digits, '.', '_' and '-'"),
        (",F-1,2026-03-01,10", "client_code", "is required"),
    ],
)
def test_f3_a_bad_item_cell_is_reported_with_its_row_field_and_reason(cells, field, reason):
    text = "client_code,number,due_date,amount\nC-1,OK-1,2026-03-01,5\n" + cells + "\n"
    records, errors = checked("items", text)
    assert [r[3] for r in records] == ["OK-1"], "the valid row is kept"
    assert errors == [RowError(3, field, reason)]


def test_f2_f3_open_amount_above_the_amount_is_refused():
    _, errors = checked("items", "client_code,number,due_date,amount,open_amount\nC,F,2026-01-01,10,11\n")
    assert errors == [RowError(2, "open_amount", "must not exceed the amount")]


def test_f3_every_bad_cell_of_a_row_is_reported():
    _, errors = checked("items", "client_code,number,due_date,amount,currency\nC,F,nope,x,EURO\n")
    assert {(e.row, e.field) for e in errors} == {(2, "due_date"), (2, "amount"), (2, "currency")}


def test_f3_a_key_repeated_in_one_file_is_an_error_on_its_second_row():
    text = "client_code,number,due_date,amount\nC,F-1,2026-01-01,1\nC,F-2,2026-01-01,1\nC,F-1,2026-01-01,2\n"
    records, errors = checked("items", text)
    assert [r[3] for r in records] == ["F-1", "F-2"]
    assert errors == [RowError(4, "number", "duplicates row 2 of this file")]


def test_f3_the_same_number_for_another_kind_or_client_is_another_item():
    text = "client_code,kind,number,due_date,amount\nC,invoice,F-1,2026-01-01,1\n" \
           "C,credit_note,F-1,2026-01-01,1\nD,invoice,F-1,2026-01-01,1\n"
    records, errors = checked("items", text)
    assert errors == [] and len(records) == 3


def test_f3_a_row_with_a_wrong_number_of_cells_is_reported_and_the_next_ones_kept():
    text = "code,name\nC-1,Acme\nC-2,Beta,extra\nC-3,Gamma\n"
    records, errors = checked("clients", text)
    assert [r[1] for r in records] == ["C-1", "C-3"]
    assert errors == [RowError(3, None, "has 3 cells where the header has 2")]


def test_f3_client_rows_tags_country_and_collector_code():
    records, errors = checked(
        "clients", "code,name,country,tags,collector_code\nC-1, Acme SA ,fr,transport| export ,K-01\n"
    )
    assert errors == []
    assert records == [(2, "C-1", "Acme SA", "FR", None, None, ["transport", "export"], None,
                        "K-01", None, None)]


def test_f3_payment_rows_need_a_reference_and_a_positive_amount():
    text = "client_code,item_number,amount,date,reference\nC,F-1,10,2026-01-05,P-1\n" \
           "C,F-1,10,2026-01-05,\nC,F-2,0,2026-01-05,P-3\nC,F-2,5,2026-01-05,P-1\n"
    records, errors = checked("payments", text)
    assert records == [(2, "C", "invoice", "F-1", Decimal("10"), date(2026, 1, 5), "P-1")]
    assert errors == [
        RowError(3, "reference", "is required"),
        RowError(4, "amount", "must be greater than 0"),
        RowError(5, "reference", "duplicates row 2 of this file"),
    ]


def test_f3_json_array_with_numbers_lists_and_bad_records():
    text = json.dumps([
        {"client_code": "C", "number": "F-1", "due_date": "2026-01-31", "amount": 99.9},
        {"code": "not an item"},
        "not an object",
        {"Client Code": "C", "Number": "F-2", "Due Date": "2026-01-31", "Amount": 5},
    ])
    records, errors = checked("items", text, "json")
    assert [(r[0], r[3], r[6]) for r in records] == [(1, "F-1", Decimal("99.9")), (4, "F-2", Decimal("5"))]
    assert {(e.row, e.field) for e in errors} == {
        (2, "client_code"), (2, "number"), (2, "due_date"), (2, "amount"), (3, None)
    }


def test_f3_json_lines_report_a_broken_line_and_keep_the_others():
    text = '{"code": "C-1", "name": "Acme", "tags": ["a", "b"]}\n{"code": oops}\n\n' \
           '{"code": "C-2", "name": "Beta"}\n'
    records, errors = checked("clients", text, "json")
    assert [(r[0], r[1], r[6]) for r in records] == [(1, "C-1", ["a", "b"]), (4, "C-2", None)]
    assert len(errors) == 1 and errors[0].row == 2 and errors[0].reason.startswith("invalid JSON")


def test_f3_invalid_json_array_is_a_file_error():
    with pytest.raises(ImportFileError) as error:
        read_file(io.StringIO('[{"code": "C-1",'), "json")
    assert error.value.field == "file" and "invalid JSON" in error.value.reason


def test_f3_a_missing_required_column_is_a_file_error_naming_the_column():
    parsed = read_file(io.StringIO("client_code,number,amount\n"), "csv")
    with pytest.raises(ImportFileError) as error:
        check_columns("items", parsed.columns)
    assert error.value.field == "due_date"


def test_f3_an_empty_file_is_a_file_error():
    with pytest.raises(ImportFileError) as error:
        read_file(io.StringIO(""), "csv")
    assert error.value.field == "file"


def test_f3_kind_is_guessed_from_the_columns():
    assert guess_kind(["Code", "Name", "Country"]) == "clients"
    assert guess_kind(["client_code", "number", "due_date", "amount"]) == "items"
    assert guess_kind(["client_code", "item_number", "amount", "date", "reference"]) == "payments"
    with pytest.raises(ImportFileError):
        guess_kind(["foo", "bar"])


def test_f3_format_is_guessed_from_name_then_content_type_then_content():
    assert guess_format("clients.JSON", None, b"code,name") == "json"
    assert guess_format("items.csv", "application/json", b"[") == "csv"
    assert guess_format(None, "application/json; charset=utf-8", b"") == "json"
    assert guess_format(None, None, b'\xef\xbb\xbf  [{"code": 1}]') == "json"
    assert guess_format(None, None, b"code;name\n") == "csv"


@pytest.mark.parametrize("cells", [
    ("C-1", "", "F-1", "", "2026-03-31", "10.00", "", ""),
    ("C-1", "credit_note", "F-1", "2026-01-01", "2026-03-31", "10", "4.5", "USD"),
    ("C-1", "Credit Note", " F-1 ", "01/01/2026", "2026-03-31", "10,5", "", "usd"),
    ("C-1\n", "", "F-1", "", "2026-03-31", "10.00", "", ""),
    ("C-1", "", "F-1", "", "2026-02-30", "10.00", "", ""),
    ("C-1", "", "F-1", "", "2026-03-31", "0.00", "", ""),
    ("C-1", "", "F-1", "", "2026-03-31", "10.00", "10.01", ""),
    ("C-1", "", "F-1", "", "2026-03-31", "10.00", "", "EURO"),
    ("C-1", "", "", "", "2026-03-31", "10.00", "", ""),
])
def test_f3_the_fast_path_for_clean_item_rows_agrees_with_the_full_check(cells):
    """Million-row files take a cheaper path for clean rows; it must never accept or
    produce anything the full check would not."""
    columns = ("client_code", "kind", "number", "issue_date", "due_date", "amount", "open_amount", "currency")
    raw = dict(zip(columns, cells, strict=False))
    assert row_checker("items").check(7, raw) == row_checker("items")._check(7, raw)
