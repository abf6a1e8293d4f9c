"""F-3 ERP import on the real stack: clients, items and payments from CSV and JSON through
`POST /imports/{kind}` and `relance import`, upserted idempotently by their keys, with a
per-row error report, the outbox events written with the change, and role checks."""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from relance.events import (
    ClientCreated,
    ClientUpdated,
    DossierOpened,
    EventEnvelope,
    ItemBatchImported,
    ItemPaymentsApplied,
)
from relance.workflow_ids import dossier_workflow_id
from tests.conftest import eventually


def prefix() -> str:
    return f"IMP{uuid4().hex[:8]}"


async def post_import(api: httpx.AsyncClient, kind: str, content: str | bytes, *,
                      filename: str = "file.csv", content_type: str = "text/csv",
                      **params) -> httpx.Response:
    return await api.post(f"/imports/{kind}", params=params,
                          files={"file": (filename, content, content_type)})


async def imported(api: httpx.AsyncClient, kind: str, content: str | bytes, **kwargs) -> dict:
    response = await post_import(api, kind, content, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


async def events_of_import(db, import_id: str, event_type: str) -> list[EventEnvelope]:
    rows = await db.fetch(
        "SELECT event FROM outbox WHERE event_type = $1 AND event->'payload'->>'import_id' = $2"
        " ORDER BY id", event_type, import_id,
    )
    return [EventEnvelope.model_validate(r["event"]) for r in rows]


async def events_for_clients(db, event_type: str, client_ids: list[UUID]) -> list[EventEnvelope]:
    rows = await db.fetch(
        "SELECT event FROM outbox WHERE event_type = $1 AND key = ANY($2::text[]) ORDER BY id",
        event_type, [str(c) for c in client_ids],
    )
    return [EventEnvelope.model_validate(r["event"]) for r in rows]


async def new_collector(api: httpx.AsyncClient) -> str:
    code = f"K{uuid4().hex[:8]}"
    response = await api.post("/collectors", json={"code": code, "name": f"Collector {code}"})
    assert response.status_code == 201, response.text
    return code


async def card(api: httpx.AsyncClient, code: str) -> dict:
    response = await api.get(f"/clients/{code}")
    assert response.status_code == 200, response.text
    return response.json()


# ---- items: the 1,000-row file ----------------------------------------------------------


async def test_f3_csv_of_1000_items_with_3_bad_rows_imports_997_and_reports_the_3(dossier_api, db) -> None:
    p = prefix()
    codes = [f"{p}-{n}" for n in range(5)]
    clients = await imported(dossier_api, "clients", "code,name\n" + "".join(f"{c},Client {c}\n" for c in codes))
    assert clients["inserted"] == 5

    lines = ["client_code,number,issue_date,due_date,amount,open_amount"]
    for n in range(1000):
        lines.append(f"{codes[n % 5]},INV-{n:04d},2026-01-01,2026-02-01,{n + 1}.00,")
    # Three bad rows; as a spreadsheet numbers them, the header is row 1.
    lines[100] = f"{codes[4]},INV-0099,2026-01-01,2026-02-01,12.345,"   # row 101
    lines[500] = f"{p}-UNKNOWN,INV-0499,2026-01-01,2026-02-01,10.00,"     # row 501
    lines[900] = f"{codes[4]},INV-0899,2026-01-01,2026-02-30,10.00,"      # row 901
    csv_text = "\n".join(lines) + "\n"

    report = await imported(dossier_api, "items", csv_text, filename="items.csv")

    assert (report["rows_read"], report["inserted"], report["updated"], report["unchanged"]) == (1000, 997, 0, 0)
    assert report["error_count"] == 3
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (101, "amount"), (501, "client_code"), (901, "due_date"),
    ]
    reasons = [e["reason"] for e in report["errors"]]
    assert "at most 2 decimals" in reasons[0]
    assert f"unknown client '{p}-UNKNOWN'" in reasons[1]
    assert reasons[2] == "is not a valid calendar date"

    # The 997 valid rows are there, each in its client's active dossier (F-2).
    assert await db.fetchval(
        "SELECT count(*) FROM items i JOIN clients c ON c.id = i.client_id WHERE c.code = ANY($1)", codes
    ) == 997
    # Every row points at an existing client and that client's own dossier, whether or not
    # the per-row foreign-key rechecks ran (the embedded server's role may skip them).
    assert await db.fetchval(
        "SELECT count(*) FROM items i JOIN clients c ON c.id = i.client_id"
        " JOIN dossiers d ON d.id = i.dossier_id AND d.client_id = c.id AND d.kind = 'active'"
        " WHERE c.code = ANY($1)", codes
    ) == 997
    first = await card(dossier_api, codes[4])
    assert len(first["open_items"]) == 197  # 200 rows for this client, three rejected
    assert {i["dossier_id"] for i in first["open_items"]} == {first["active_dossier"]["id"]}
    assert "INV-0099" not in {i["number"] for i in first["open_items"]}

    # One item event per client touched, not one per row; the workflow bridge needs the
    # active dossier to signal.
    events = await events_of_import(db, report["import_id"], "item.batch_imported")
    assert len(events) == 5
    payloads = [e.payload_as(ItemBatchImported) for e in events]
    assert sum(pl.inserted for pl in payloads) == 997
    by_client = {str(pl.client_id): pl for pl in payloads}
    first_event = by_client[first["client"]["id"]]
    assert str(first_event.dossier_id) == first["active_dossier"]["id"]
    assert first_event.inserted == 197 and len(first_event.item_numbers) == 100
    assert first_event.item_numbers_truncated is True
    assert all(e.actor == "user:admin" and e.topic == "item.events" for e in events)

    # The same file again changes nothing and emits nothing (F-3: idempotent by keys).
    again = await imported(dossier_api, "items", csv_text, filename="items.csv")
    assert (again["inserted"], again["updated"], again["unchanged"], again["error_count"]) == (0, 0, 997, 3)
    assert await events_of_import(db, again["import_id"], "item.batch_imported") == []
    assert len(first["open_items"]) == len((await card(dossier_api, codes[4]))["open_items"])

    # A changed amount is an update, reported and announced for that client only.
    lines[1] = f"{codes[0]},INV-0000,2026-01-01,2026-02-01,999.00,"
    changed = await imported(dossier_api, "items", "\n".join(lines) + "\n", filename="items.csv")
    assert (changed["inserted"], changed["updated"], changed["unchanged"]) == (0, 1, 996)
    [event] = await events_of_import(db, changed["import_id"], "item.batch_imported")
    assert event.payload_as(ItemBatchImported).item_numbers == ["INV-0000"]
    item = next(i for i in (await card(dossier_api, codes[0]))["open_items"] if i["number"] == "INV-0000")
    assert Decimal(item["amount"]) == Decimal(item["open_amount"]) == Decimal("999.00")

    # F-33: the import is in each touched client's audit trail.
    actions = await db.fetch(
        "SELECT action, entity, details FROM audit_log WHERE client_id = $1 ORDER BY id",
        UUID(first["client"]["id"]),
    )
    assert [(a["action"], a["entity"]) for a in actions] == [("create", "client"), ("import", "items")]
    assert actions[1]["details"]["inserted"] == 197


# ---- clients ------------------------------------------------------------------------------


async def test_f3_new_clients_get_an_active_dossier_events_and_their_collector(dossier_api, db, stack) -> None:
    p = prefix()
    collector = await new_collector(dossier_api)
    text = (
        "code;name;country;segment;tags;collector_code\n"
        f"{p}-A;Acme SA;fr;SME;transport|export;{collector}\n"
        f"{p}-B;Beta SARL;;;;NO-SUCH-COLLECTOR\n"
        f"{p}-C;Gamma;BE;;;\n"
    )
    report = await imported(dossier_api, "clients", text)
    assert (report["rows_read"], report["inserted"], report["error_count"]) == (3, 2, 1)
    assert report["errors"] == [
        {"row": 3, "field": "collector_code", "reason": "unknown collector code 'NO-SUCH-COLLECTOR'"}
    ]
    assert (await dossier_api.get(f"/clients/{p}-B")).status_code == 404

    acme = await card(dossier_api, f"{p}-A")
    assert (acme["client"]["name"], acme["client"]["country"], acme["client"]["tags"]) == (
        "Acme SA", "FR", ["transport", "export"])
    assert acme["active_dossier"]["kind"] == "active" and acme["active_dossier"]["closed_at"] is None
    assert await db.fetchval(
        "SELECT k.code FROM clients c JOIN collectors k ON k.id = c.collector_id WHERE c.code = $1", f"{p}-A"
    ) == collector
    gamma = await card(dossier_api, f"{p}-C")
    ids = [UUID(acme["client"]["id"]), UUID(gamma["client"]["id"])]

    # The same events as a client created through the API, in order per client.
    created = await events_for_clients(db, "client.created", ids)
    opened = await events_for_clients(db, "dossier.opened", ids)
    assert sorted(e.payload_as(ClientCreated).code for e in created) == [f"{p}-A", f"{p}-C"]
    opened_payloads = {e.payload_as(DossierOpened).client_code: e.payload_as(DossierOpened) for e in opened}
    assert str(opened_payloads[f"{p}-A"].dossier_id) == acme["active_dossier"]["id"]
    assert opened_payloads[f"{p}-A"].kind == "active"

    # The event went through the relay and the bridge: the dossier workflow runs.
    temporal = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)

    async def workflow_started():
        try:
            return await temporal.get_workflow_handle(
                dossier_workflow_id(acme["active_dossier"]["id"])).describe()
        except Exception:  # noqa: BLE001 - not there yet
            return None

    await eventually(workflow_started, timeout=90)

    # Again: nothing changes, no event; then a change of name is an update.
    again = await imported(dossier_api, "clients", text)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert len(await events_for_clients(db, "client.created", ids)) == 2
    renamed = await imported(dossier_api, "clients", f"code,name\n{p}-A,Acme Group\n{p}-C,Gamma\n")
    assert (renamed["inserted"], renamed["updated"], renamed["unchanged"]) == (0, 1, 1)
    [update] = await events_for_clients(db, "client.updated", ids[:1])
    assert update.payload_as(ClientUpdated).changed == {"name": "Acme Group"}
    after = await card(dossier_api, f"{p}-A")
    # An empty cell or a missing column keeps what the platform knows.
    assert (after["client"]["name"], after["client"]["segment"], after["client"]["version"]) == (
        "Acme Group", "SME", acme["client"]["version"] + 1)

    # F-33: one audit entry per client created or changed, naming the import.
    audit = await db.fetch(
        "SELECT entity_id, action, comment, details FROM audit_log WHERE client_id = ANY($1::uuid[])"
        " AND entity = 'client' AND action IN ('create', 'update') ORDER BY id", ids,
    )
    assert sorted((a["entity_id"], a["action"], a["comment"]) for a in audit) == [
        (f"{p}-A", "create", "ERP import"), (f"{p}-A", "update", "ERP import"),
        (f"{p}-C", "create", "ERP import")]
    [update_entry] = [a for a in audit if a["action"] == "update"]
    assert update_entry["details"] == {
        "import_id": renamed["import_id"], "changed": {"name": {"from": "Acme SA", "to": "Acme Group"}}}


async def test_f3_json_array_and_json_lines_are_imported_like_csv(dossier_api, db) -> None:
    p = prefix()
    clients = json.dumps([{"code": f"{p}-J", "name": "Json SA", "tags": ["a", "b"], "country": "DE"}])
    response = await dossier_api.post("/imports/clients", content=clients,
                                      headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert (response.json()["format"], response.json()["inserted"]) == ("json", 1)

    items = "\n".join(json.dumps(r) for r in [
        {"client_code": f"{p}-J", "number": "J-1", "due_date": "2026-04-30", "amount": 150.25},
        {"client_code": f"{p}-J", "kind": "credit_note", "number": "J-1", "due_date": "2026-04-30",
         "amount": "20.00"},
        {"client_code": f"{p}-J", "number": "J-2", "due_date": "not a date", "amount": 1},
    ]) + "\n"
    report = await imported(dossier_api, "items", items, filename="items.jsonl",
                            content_type="application/octet-stream")
    assert (report["format"], report["inserted"], report["error_count"]) == ("json", 2, 1)
    assert report["errors"] == [
        {"row": 3, "field": "due_date", "reason": "must be a date as YYYY-MM-DD or DD/MM/YYYY"}
    ]
    client = await card(dossier_api, f"{p}-J")
    assert client["client"]["tags"] == ["a", "b"]
    assert sorted((i["kind"], i["number"], i["amount"]) for i in client["open_items"]) == [
        ("credit_note", "J-1", "20.00"), ("invoice", "J-1", "150.25")]
    assert Decimal(client["client"]["balance"]) == Decimal("130.25")


# ---- payments -----------------------------------------------------------------------------


async def test_f3_payments_lower_open_amounts_once_never_below_zero_and_emit_events(dossier_api, db) -> None:
    p = prefix()
    await imported(dossier_api, "clients", f"code,name\n{p}-P,Payer\n")
    await imported(dossier_api, "items", "client_code,number,due_date,amount\n"
                   f"{p}-P,F-1,2026-01-31,100.00\n{p}-P,F-2,2026-01-31,50.00\n")
    payments = (
        "client_code,item_number,amount,date,reference\n"
        f"{p}-P,F-1,30.00,2026-02-01,{p}-R1\n"
        f"{p}-P,F-1,80.00,2026-02-03,{p}-R2\n"     # more than is left: F-1 stops at 0
        f"{p}-P,F-2,20.00,2026-02-02,{p}-R3\n"
        f"{p}-P,F-9,5.00,2026-02-02,{p}-R4\n"      # no such item
    )
    report = await imported(dossier_api, "payments", payments)
    assert (report["inserted"], report["unchanged"], report["error_count"]) == (3, 0, 1)
    assert report["errors"] == [{"row": 5, "field": "item_number", "reason": "the client has no invoice F-9"}]
    assert report["details"] == {"amount_applied": "120.00", "items_lowered": 2, "items_settled": 1}

    client = await card(dossier_api, f"{p}-P")
    assert [(i["number"], i["open_amount"]) for i in client["open_items"]] == [("F-2", "30.00")]
    assert Decimal(client["client"]["balance"]) == Decimal("30.00")  # F-1 is settled (F-2)

    [event] = await events_of_import(db, report["import_id"], "item.payments_applied")
    applied = event.payload_as(ItemPaymentsApplied)
    assert str(applied.dossier_id) == client["active_dossier"]["id"]
    assert (applied.payments, applied.amount_applied) == (3, Decimal("120.00"))
    assert (applied.item_numbers, applied.settled_item_numbers) == (["F-1", "F-2"], ["F-1"])

    # The same file again: every reference was applied already.
    again = await imported(dossier_api, "payments", payments)
    assert (again["inserted"], again["unchanged"], again["error_count"]) == (0, 3, 1)
    assert await events_of_import(db, again["import_id"], "item.payments_applied") == []
    assert [(i["number"], i["open_amount"]) for i in (await card(dossier_api, f"{p}-P"))["open_items"]] == [
        ("F-2", "30.00")]

    # A known reference with another amount is refused, not applied twice.
    conflict = await imported(
        dossier_api, "payments",
        f"client_code,item_number,amount,date,reference\n{p}-P,F-2,25.00,2026-02-02,{p}-R3\n",
    )
    assert conflict["inserted"] == 0
    assert [(e["row"], e["field"]) for e in conflict["errors"]] == [(2, "reference")]


# ---- file errors and roles ---------------------------------------------------------------


async def test_f3_unreadable_files_are_refused_naming_the_field(dossier_api) -> None:
    missing = await post_import(dossier_api, "items", "client_code,number,amount\nC,F,1\n")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "due_date"

    latin1 = await post_import(dossier_api, "clients", "code,name\nC-1,Soci\xe9t\xe9\n".encode("latin-1"))
    assert latin1.status_code == 422
    assert latin1.json()["errors"][0]["field"] == "file"

    unknown_kind = await post_import(dossier_api, "invoices", "code,name\n")
    assert unknown_kind.status_code == 422
    assert unknown_kind.json()["errors"][0]["field"].endswith("kind")


async def test_f3_f33_only_admins_and_managers_may_import(dossier_api, platform) -> None:
    url = platform.running["dossier"].url
    async with httpx.AsyncClient(base_url=url, timeout=30) as anonymous:
        response = await anonymous.post("/imports/clients", content="code,name\nX,Y\n",
                                        headers={"Content-Type": "text/csv"})
    assert response.status_code == 401

    collector = await new_collector(dossier_api)
    tokens = {}
    for role in ("read_only", "collector", "manager"):
        body = {"name": f"{role}-{uuid4().hex[:6]}", "role": role}
        if role == "collector":
            body["collector_code"] = collector
        created = await dossier_api.post("/users", json=body)
        assert created.status_code == 201, created.text
        tokens[role] = created.json()["token"]

    p = prefix()
    for role, expected in (("read_only", 403), ("collector", 403), ("manager", 200)):
        async with httpx.AsyncClient(base_url=url, timeout=30,
                                     headers={"Authorization": f"Bearer {tokens[role]}"}) as user:
            response = await post_import(user, "clients", f"code,name\n{p}-{role},By {role}\n")
        assert response.status_code == expected, (role, response.text)
    assert (await dossier_api.get(f"/clients/{p}-read_only")).status_code == 404
    assert (await dossier_api.get(f"/clients/{p}-manager")).status_code == 200


# ---- the command line ---------------------------------------------------------------------


async def test_f3_relance_import_command_reports_rows_and_rejects(dossier_api, stack, tmp_path: Path) -> None:
    p = prefix()
    path = tmp_path / "clients.csv"
    path.write_text(f"code,name\n{p}-1,One\n{p} 2,Bad code\n{p}-3,Three\n")
    env = {**os.environ, "DATABASE_URL": stack.database_url}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "relance"), "import", str(path)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 3, result.stderr  # some rows were rejected
    assert "clients (csv) import" in result.stdout
    assert "3 rows read, 2 inserted, 0 updated, 0 unchanged, 1 rejected" in result.stdout
    assert "row 3: code:" in result.stdout
    assert (await dossier_api.get(f"/clients/{p}-3")).status_code == 200

    again = subprocess.run(
        [str(Path(sys.executable).parent / "relance"), "import", str(path), "--kind", "clients"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert "0 inserted, 0 updated, 2 unchanged, 1 rejected" in again.stdout
