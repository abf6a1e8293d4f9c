"""Exports in the browser (F-40): the client card's statement, the agenda and the
dashboard's aging report download as files, through the console, with the user's rights;
and the card's balance per currency (F-43)."""

import csv
import io
from uuid import UUID, uuid4

from openpyxl import load_workbook
from playwright.async_api import expect


async def test_f40_the_statement_and_the_aging_report_download_from_the_console(signed_in, dossier_api):
    code = f"EXP-{uuid4().hex[:8].upper()}"
    created = await dossier_api.post("/clients", json={
        "code": code, "name": f"Client {code}",
        "items": [{"number": "S-1", "due_date": "2026-01-10", "amount": "700.00"},
                  {"number": "S-2", "due_date": "2026-02-10", "amount": "300.00"},
                  {"number": "S-3", "due_date": "2026-02-10", "amount": "50.00", "currency": "USD"}],
    })
    assert created.status_code == 201, created.text
    page, _person = await signed_in("manager")
    await page.goto(f"/clients/{code}")
    # F-43: one balance per currency, never one sum of euros and dollars.
    await expect(page.locator("#balance .balance[data-currency='EUR']")).to_have_text("€1,000.00")
    await expect(page.locator("#balance .balance[data-currency='USD']")).to_contain_text("50.00")

    async with page.expect_download() as csv_download:
        await page.click("#statement-csv")
    download = await csv_download.value
    assert download.suggested_filename.startswith(f"statement-{code}-")
    rows = list(csv.reader(io.StringIO((await download.path()).read_text())))
    assert [(r[0], r[4], r[7]) for r in rows[1:]] == [
        ("S-1", "EUR", "700.00"), ("S-2", "EUR", "1000.00"), ("S-3", "USD", "50.00"),
        ("Total EUR", "EUR", "1000.00"), ("Total USD", "USD", "50.00")]

    async with page.expect_download() as xlsx_download:
        await page.click("#statement-xlsx")
    xlsx = (await (await xlsx_download.value).path()).read_bytes()
    sheet = load_workbook(io.BytesIO(xlsx), read_only=True).active
    cells = [row for row in sheet.iter_rows(values_only=True)]
    assert cells[2][0] == "S-2" and cells[2][7] == 1000

    await page.goto("/kpis")
    async with page.expect_download() as aging_download:
        await page.click("#aging-csv")
    aging = list(csv.reader(io.StringIO((await (await aging_download.value).path()).read_text())))
    mine = [r for r in aging if r[0] == code]
    assert [(r[3], r[-1]) for r in mine] == [("EUR", "1000.00"), ("USD", "50.00")]


async def test_f40_a_collector_downloads_their_agenda_as_shown(signed_in, dossier_api, db):
    page, person = await signed_in("collector")
    code = f"EXA-{uuid4().hex[:8].upper()}"
    created = await dossier_api.post("/clients", json={
        "code": code, "name": f"Client {code}",
        "items": [{"number": "A-1", "due_date": "2026-01-10", "amount": "70.00"}]})
    assert created.status_code == 201, created.text
    client_id, dossier_id = created.json()["client"]["id"], created.json()["active_dossier"]["id"]
    await db.execute("UPDATE clients SET collector_id = (SELECT id FROM collectors WHERE code = $1)"
                     " WHERE code = $2", person.collector, code)
    await db.execute(
        "INSERT INTO interventions (id, dossier_id, client_id, origin, action_type, mode, due_at, status,"
        " details, comment) VALUES ($1, $2, $3, 'manual', 'call', 'manual', now() - interval '1 hour',"
        " 'todo', '{}', 'ring the accountant')", uuid4(), UUID(dossier_id), UUID(client_id))

    await page.goto("/agenda")
    async with page.expect_download() as agenda_download:
        await page.click("#agenda-xlsx")
    download = await agenda_download.value
    assert download.suggested_filename.startswith("agenda-")
    sheet = load_workbook(io.BytesIO((await download.path()).read_bytes()), read_only=True).active
    rows = [row for row in sheet.iter_rows(values_only=True)]
    assert rows[0][:3] == ("Due (UTC)", "Priority", "Action")
    assert ("call", code, person.collector, "ring the accountant") in [(r[2], r[7], r[9], r[10]) for r in rows[1:]]
    assert {r[9] for r in rows[1:]} == {person.collector}  # the collector's own agenda only
