"""Exports (F-40) of a search, the aging report and a client's statement, as CSV and XLSX,
on the real stack; totals per currency, never across currencies (F-43).

The data set, in a segment of its own, aged on 30 June 2026. Collector A has X1 and X3,
collector B has X2. (number, kind, due, amount, open, currency):

    X1  A1 invoice      15 Jul   300  300 EUR   not due
        A2 invoice       9 Jun   500  500 EUR   21 days
        A3 credit note   1 Jun   100  100 EUR   29 days (−100)
        A4 invoice      31 Mar  1000  400 EUR   91 days
        A5 invoice       1 Jun   200    0 EUR   paid: on no export
        A6 invoice       1 Jul  1200 1200 USD   not due
    X2  B1 invoice      20 May   250  100 EUR   41 days
    X3  (no item)

Balances: X1 EUR 300 + 500 − 100 + 400 = 1100 and USD 1200; X2 EUR 100; X3 nothing.
Aging EUR: not due 300, 1–30 400, 31–60 100, 61–90 none, over 90 400; total 1200.
Agenda: X1 has an email due 1 July 08:30 and a call 2 July 09:00; X2 a letter 1 July.
X1's statement, EUR by due date: A4 400 (running 400), A3 −100 (300), A2 500 (800), A1
300 (1100); USD: A6 1200 (1200).
"""

import csv
import io
from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import httpx
import pytest
from openpyxl import load_workbook

ON = "2026-06-30"


class DataSet:
    def __init__(self) -> None:
        tag = uuid4().hex[:6]
        self.segment = f"EXP-{tag}"
        self.a, self.b = f"XA-{tag}", f"XB-{tag}"
        self.x1, self.x2, self.x3 = f"X1-{tag}", f"X2-{tag}", f"X3-{tag}"
        self.collector_a_api: httpx.AsyncClient | None = None


async def _client(conn, code: str, collector_id: UUID, segment: str) -> tuple[UUID, UUID]:
    client_id, dossier_id = uuid4(), uuid4()
    await conn.execute(
        "INSERT INTO clients (id, code, name, segment, collector_id) VALUES ($1,$2,$2,$3,$4)",
        client_id, code, segment, collector_id)
    await conn.execute("INSERT INTO dossiers (id, client_id, kind) VALUES ($1, $2, 'active')",
                       dossier_id, client_id)
    return client_id, dossier_id


async def _item(conn, ids: tuple[UUID, UUID], kind: str, number: str, due: str, amount: int,
                open_amount: int, currency: str = "EUR") -> None:
    await conn.execute(
        "INSERT INTO items (id, client_id, dossier_id, kind, number, due_date, amount, open_amount,"
        " currency) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        uuid4(), *ids, kind, number, date.fromisoformat(f"2026-{due}"), Decimal(amount),
        Decimal(open_amount), currency)


@pytest.fixture(scope="module")
async def data(dossier_api, platform, db) -> AsyncIterator[DataSet]:
    ds = DataSet()
    for code in (ds.a, ds.b):
        assert (await dossier_api.post("/collectors", json={"code": code, "name": code})).status_code == 201
    user = await dossier_api.post("/users", json={"name": f"user-{ds.a}", "role": "collector",
                                                  "collector_code": ds.a})
    assert user.status_code == 201, user.text
    ds.collector_a_api = httpx.AsyncClient(base_url=platform.running["dossier"].url, timeout=30,
                                           headers={"Authorization": f"Bearer {user.json()['token']}"})
    async with db.acquire() as conn, conn.transaction():
        ka = await conn.fetchval("SELECT id FROM collectors WHERE code = $1", ds.a)
        kb = await conn.fetchval("SELECT id FROM collectors WHERE code = $1", ds.b)
        x1 = await _client(conn, ds.x1, ka, ds.segment)
        x2 = await _client(conn, ds.x2, kb, ds.segment)
        await _client(conn, ds.x3, ka, ds.segment)
        await _item(conn, x1, "invoice", "A1", "07-15", 300, 300)
        await _item(conn, x1, "invoice", "A2", "06-09", 500, 500)
        await _item(conn, x1, "credit_note", "A3", "06-01", 100, 100)
        await _item(conn, x1, "invoice", "A4", "03-31", 1000, 400)
        await _item(conn, x1, "invoice", "A5", "06-01", 200, 0)
        await _item(conn, x1, "invoice", "A6", "07-01", 1200, 1200, "USD")
        await _item(conn, x2, "invoice", "B1", "05-20", 250, 100)
        for ids, action_type, due in ((x1, "call", "2026-07-02T09:00:00+00:00"),
                                      (x1, "email", "2026-07-01T08:30:00+00:00"),
                                      (x2, "letter", "2026-07-01T10:00:00+00:00")):
            await conn.execute(
                "INSERT INTO interventions (id, dossier_id, client_id, origin, action_type, mode, due_at,"
                " status, details) VALUES ($1,$2,$3,'scenario',$4,'manual',$5,'todo','{}')",
                uuid4(), ids[1], ids[0], action_type, datetime.fromisoformat(due))
    yield ds
    await ds.collector_a_api.aclose()


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def _xlsx(response: httpx.Response) -> list[tuple]:
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


async def test_f40_the_aging_report_as_csv_per_client_and_currency_then_totals(dossier_api, data):
    response = await dossier_api.get("/reports/aging", params={"format": "csv", "on": ON,
                                                               "segment": data.segment})
    rows = _csv(response)
    assert 'filename="aging-2026-06-30.csv"' in response.headers["content-disposition"]
    assert rows[0] == ["Client code", "Name", "Collector", "Currency", "Not due", "1–30 days",
                       "31–60 days", "61–90 days", "Over 90 days", "Total"]
    assert rows[1:] == [
        [data.x1, data.x1, data.a, "EUR", "300.00", "400.00", "", "", "400.00", "1100.00"],
        [data.x1, data.x1, data.a, "USD", "1200.00", "", "", "", "", "1200.00"],
        [data.x2, data.x2, data.b, "EUR", "", "", "100.00", "", "", "100.00"],
        ["Total EUR", "", "", "EUR", "300.00", "400.00", "100.00", "", "400.00", "1200.00"],
        ["Total USD", "", "", "USD", "1200.00", "", "", "", "", "1200.00"],
    ]


async def test_f40_the_aging_report_as_json_pages_and_xlsx_typed_cells(dossier_api, data):
    page = await dossier_api.get("/reports/aging", params={"on": ON, "segment": data.segment, "limit": 2})
    assert page.status_code == 200, page.text
    body = page.json()
    assert [(r["code"], r["currency"], r["total"]) for r in body["rows"]] == [
        (data.x1, "EUR", "1100.00"), (data.x1, "USD", "1200.00")]
    assert body["buckets"]["d90_plus"] == "Over 90 days"

    rows = _xlsx(await dossier_api.get("/reports/aging", params={"format": "xlsx", "on": ON,
                                                                 "segment": data.segment}))
    assert rows[1] == (data.x1, data.x1, data.a, "EUR", 300, 400, None, None, 400, 1100)
    assert rows[-1] == ("Total USD", None, None, "USD", 1200, None, None, None, None, 1200)


async def test_f40_a_collectors_aging_holds_only_the_clients_they_may_see(data):
    rows = _csv(await data.collector_a_api.get("/reports/aging", params={"format": "csv", "on": ON,
                                                                         "segment": data.segment}))
    assert {r[0] for r in rows[1:]} == {data.x1, "Total EUR", "Total USD"}
    assert rows[-2] == ["Total EUR", "", "", "EUR", "300.00", "400.00", "", "", "400.00", "1100.00"]


async def test_f40_f43_a_search_export_gives_one_balance_per_currency(dossier_api, data):
    body = {"criteria": {"segment": data.segment}, "mine": False}
    rows = _csv(await dossier_api.post("/clients/search/export", params={"format": "csv"}, json=body))
    assert [(r[0], r[6], r[7], r[8]) for r in rows[1:]] == [
        (data.x1, data.a, "EUR", "1100.00"), (data.x1, data.a, "USD", "1200.00"),
        (data.x2, data.b, "EUR", "100.00"), (data.x3, data.a, "", "0.00"),
        ("Total EUR", "", "EUR", "1200.00"), ("Total USD", "", "USD", "1200.00"),
    ]
    pasted = _xlsx(await dossier_api.post("/clients/search/export", params={"format": "xlsx"},
                                          json={"codes": f"{data.x2}\n{data.x3}", "mine": False}))
    assert [(r[0], r[7], r[8]) for r in pasted[1:]] == [
        (data.x2, "EUR", 100), (data.x3, None, 0), ("Total EUR", "EUR", 100)]


async def test_f40_a_clients_statement_with_running_balances_per_currency(dossier_api, data):
    response = await dossier_api.get(f"/clients/{data.x1}/statement", params={"format": "csv"})
    rows = _csv(response)
    assert f"statement-{data.x1}-" in response.headers["content-disposition"]
    assert [(r[0], r[4], r[6], r[7]) for r in rows[1:]] == [
        ("A4", "EUR", "400.00", "400.00"), ("A3", "EUR", "100.00", "300.00"),
        ("A2", "EUR", "500.00", "800.00"), ("A1", "EUR", "300.00", "1100.00"),
        ("A6", "USD", "1200.00", "1200.00"),
        ("Total EUR", "EUR", "", "1100.00"), ("Total USD", "USD", "", "1200.00"),
    ]
    sheet = _xlsx(await dossier_api.get(f"/clients/{data.x1}/statement", params={"format": "xlsx"}))
    assert sheet[1][0] == "A4" and sheet[1][3].date() == date(2026, 3, 31) and sheet[1][7] == 400


async def test_f40_refusals_come_before_the_file_with_their_field(dossier_api, data):
    bad = await dossier_api.get("/reports/aging", params={"format": "pdf"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "format"
    bad = await dossier_api.get(f"/clients/{data.x1}/statement", params={"format": "ods"})
    assert bad.status_code == 422 and "format" in bad.text
    unknown = await dossier_api.get("/reports/aging", params={"format": "csv", "collector": "NOPE-42"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "collector"
    # Another collector's client answers like one that does not exist (F-4).
    hidden = await data.collector_a_api.get(f"/clients/{data.x2}/statement")
    assert hidden.status_code == 404


async def test_f40_a_collectors_agenda_export_holds_their_actions_by_date(dossier_api, data):
    rows = _csv(await data.collector_a_api.get("/agenda/export", params={"format": "csv"}))
    assert rows[0][:3] == ["Due (UTC)", "Priority", "Action"]
    assert [(r[0], r[2], r[7]) for r in rows[1:]] == [
        ("2026-07-01T08:30:00+00:00", "email", data.x1), ("2026-07-02T09:00:00+00:00", "call", data.x1)]
    theirs = _xlsx(await dossier_api.get("/agenda/export", params={"format": "xlsx", "collector": data.b}))
    assert [(r[0], r[2], r[7]) for r in theirs[1:]] == [(datetime(2026, 7, 1, 10, 0), "letter", data.x2)]
    # Another collector's agenda answers like an unknown collector (F-4).
    hidden = await data.collector_a_api.get("/agenda/export", params={"collector": data.b})
    assert hidden.status_code == 404


async def test_f43_the_card_and_the_search_give_the_balance_of_each_currency(dossier_api, data):
    card = (await dossier_api.get(f"/clients/{data.x1}")).json()
    assert card["client"]["balances"] == [{"currency": "EUR", "balance": "1100.00"},
                                          {"currency": "USD", "balance": "1200.00"}]
    found = (await dossier_api.post("/clients/search", json={"criteria": {"segment": data.segment},
                                                             "mine": False})).json()
    assert {c["code"]: c["balances"] for c in found["clients"]} == {
        data.x1: [{"currency": "EUR", "balance": "1100.00"}, {"currency": "USD", "balance": "1200.00"}],
        data.x2: [{"currency": "EUR", "balance": "100.00"}],
        data.x3: [],
    }
