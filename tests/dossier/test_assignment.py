"""Collectors and assignment on the real stack (F-5…F-8, F-24, F-33): collectors CRUD;
changing the collector on the card / contact block with a comment, an audit entry and a
`client.collector_changed` event; searching by criteria or by a pasted list of codes;
saved searches; mass assignment; ordered rules and a default collector applied to new
clients and re-applied on demand; the alert of clients owing money with no collector;
the agenda that follows the client when it is reassigned."""

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import httpx
import pytest

from relance.events import ClientCollectorChanged, EventEnvelope
from tests.conftest import eventually

TODAY = date.today()


def new_code(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:10]}"


def error_fields(response) -> list[str | None]:
    return [e["field"] for e in response.json()["errors"]]


async def create_collector(dossier_api, prefix: str = "COL") -> str:
    code = new_code(prefix)
    response = await dossier_api.post("/collectors", json={"code": code, "name": f"Collector {code}"})
    assert response.status_code == 201, response.text
    return code


async def create_client(dossier_api, *, segment: str, amount: str | None = "800.00", **attributes) -> str:
    code = new_code("ASG")
    items = [{"number": "F-1", "due_date": str(TODAY + timedelta(days=30)), "amount": amount}] if amount else []
    response = await dossier_api.post("/clients", json={
        "code": code, "name": f"Client {code}", "segment": segment, "items": items, **attributes,
    })
    assert response.status_code == 201, response.text
    return code


async def collector_of(dossier_api, code: str) -> str | None:
    found = (await dossier_api.post("/clients/search", json={"codes": code})).json()
    assert [c["code"] for c in found["clients"]] == [code], found
    return found["clients"][0]["collector_code"]


async def collector_events(db, code: str) -> list[dict]:
    rows = await db.fetch(
        "SELECT event FROM outbox WHERE event_type = 'client.collector_changed'"
        " AND event->'payload'->>'code' = $1 ORDER BY id", code)
    return [r["event"] for r in rows]


@pytest.fixture
async def clean_rules(dossier_api) -> AsyncIterator[None]:
    """Rules and the default collector apply to every new client: leave none behind for
    the other tests of the session."""
    yield
    assert (await dossier_api.put("/assignment/rules", json={"rules": []})).status_code == 200
    response = await dossier_api.put("/assignment/default-collector", json={"collector_code": None})
    assert response.status_code == 200


# ---- collectors -------------------------------------------------------------------------


async def test_f4_collectors_crud(dossier_api, db) -> None:
    code = new_code("CRUD")
    created = await dossier_api.post("/collectors", json={"code": code, "name": "Alice Martin",
                                                          "email": "alice@relance.example"})
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "alice@relance.example"
    duplicate = await dossier_api.post("/collectors", json={"code": code, "name": "Other"})
    assert duplicate.status_code == 409 and error_fields(duplicate) == ["code"]
    bad = await dossier_api.post("/collectors", json={"code": "has space", "name": "", "email": "x"})
    assert bad.status_code == 422 and set(error_fields(bad)) == {"code", "name", "email"}

    patched = await dossier_api.patch(f"/collectors/{code}", json={"name": "Alice Durand", "email": None})
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["email"]) == ("Alice Durand", None)
    assert (await dossier_api.get(f"/collectors/{code}")).json()["name"] == "Alice Durand"
    assert code in {c["code"] for c in (await dossier_api.get("/collectors")).json()}

    # A collector that still has clients cannot go.
    client = await create_client(dossier_api, segment="crud")
    await dossier_api.put(f"/clients/{client}/collector", json={"collector_code": code})
    refused = await dossier_api.delete(f"/collectors/{code}")
    assert refused.status_code == 409 and "clients: 1" in refused.json()["errors"][0]["reason"]
    await dossier_api.put(f"/clients/{client}/collector", json={"collector_code": None})
    assert (await dossier_api.delete(f"/collectors/{code}")).status_code == 204
    assert (await dossier_api.get(f"/collectors/{code}")).status_code == 404
    actions = [r["action"] for r in await db.fetch(
        "SELECT action FROM audit_log WHERE entity = 'collector' AND entity_id = $1 ORDER BY id", code)]
    assert actions == ["create", "update", "delete"]  # F-33


# ---- on the card / contact block (F-5, F-24, F-33) ----------------------------------------


async def test_f24_change_collector_on_the_card_with_comment_audit_and_event(dossier_api, db) -> None:
    alice, bob = await create_collector(dossier_api, "ALICE"), await create_collector(dossier_api, "BOB")
    client = await create_client(dossier_api, segment="card")
    assert await collector_of(dossier_api, client) is None

    first = await dossier_api.put(f"/clients/{client}/collector",
                                  json={"collector_code": alice, "comment": "new portfolio"})
    assert first.status_code == 200, first.text
    assert first.json() == {"client_code": client, "collector_code": alice, "changed": True}
    second = await dossier_api.put(f"/clients/{client}/collector",
                                   json={"collector_code": bob, "comment": "Alice is on leave"})
    assert second.json()["changed"] is True
    again = await dossier_api.put(f"/clients/{client}/collector", json={"collector_code": bob})
    assert again.json()["changed"] is False  # nothing to record
    assert await collector_of(dossier_api, client) == bob

    audit = await db.fetch(
        "SELECT actor, comment, details FROM audit_log WHERE entity_id = $1"
        " AND action = 'change_collector' ORDER BY id", client)
    assert [(a["actor"], a["comment"], a["details"]["from"], a["details"]["to"]) for a in audit] == [
        ("user:admin", "new portfolio", None, alice),
        ("user:admin", "Alice is on leave", alice, bob),
    ]
    events = await collector_events(db, client)
    assert [(e["payload"]["previous_collector_code"], e["payload"]["collector_code"],
             e["payload"]["source"], e["actor"]) for e in events] == [
        (None, alice, "card", "user:admin"), (alice, bob, "card", "user:admin")]
    # Written in SQL, each event is still exactly its message model (what a consumer parses).
    envelope = EventEnvelope.model_validate(events[-1])
    assert (envelope.event_type, envelope.topic) == (ClientCollectorChanged.event_type,
                                                     ClientCollectorChanged.topic)
    changed = envelope.payload_as(ClientCollectorChanged)
    assert (changed.code, changed.collector_code, changed.comment) == (client, bob, "Alice is on leave")
    # The events are relayed to Kafka like every other.
    assert await eventually(lambda: db.fetchval(
        "SELECT bool_and(published_at IS NOT NULL) FROM outbox WHERE event_type = 'client.collector_changed'"
        " AND event->'payload'->>'code' = $1", client), timeout=60)


async def test_f24_bad_collector_change_names_the_field_and_writes_nothing(dossier_api, db) -> None:
    client = await create_client(dossier_api, segment="card-bad")
    unknown = await dossier_api.put(f"/clients/{client}/collector", json={"collector_code": "NOBODY-x"})
    assert unknown.status_code == 422 and error_fields(unknown) == ["collector_code"]
    missing = await dossier_api.put(f"/clients/{client}/collector", json={"comment": "who?"})
    assert missing.status_code == 422 and error_fields(missing) == ["collector_code"]
    no_client = await dossier_api.put(f"/clients/NOPE-{uuid4().hex}/collector", json={"collector_code": None})
    assert no_client.status_code == 404 and error_fields(no_client) == ["code"]
    assert await collector_events(db, client) == []
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE entity_id = $1"
                             " AND action = 'change_collector'", client) == 0


# ---- search and saved searches (F-5) -------------------------------------------------------


async def test_f5_list_clients_with_filters_and_pagination(dossier_api) -> None:
    segment = new_code("seg")
    alice = await create_collector(dossier_api, "ALICE")
    fr = [await create_client(dossier_api, segment=segment, country="FR", tags=["Transport", "export"],
                              risk="high") for _ in range(3)]
    de = await create_client(dossier_api, segment=segment, country="DE", category="B2C")
    settled = await create_client(dossier_api, segment=segment, country="FR", amount=None)
    await dossier_api.put(f"/clients/{fr[0]}/collector", json={"collector_code": alice})

    async def codes(**params) -> list[str]:
        response = await dossier_api.get("/clients", params={"segment": segment, **params})
        assert response.status_code == 200, response.text
        return [c["code"] for c in response.json()["clients"]]

    assert await codes() == sorted(fr + [de, settled])
    assert await codes(country="fr") == sorted(fr + [settled])
    assert await codes(category="B2C") == [de]
    assert await codes(tag=["transport", "EXPORT"]) == sorted(fr)
    assert await codes(tag=["transport", "public"]) == []
    assert await codes(risk="high") == sorted(fr)
    assert await codes(collector=alice) == [fr[0]]
    assert await codes(has_collector="true") == [fr[0]]
    assert await codes(has_collector="false") == sorted(fr[1:] + [de, settled])
    assert await codes(balance_nonzero="false") == [settled]
    assert await codes(balance_nonzero="true", country="FR") == sorted(fr)

    page = (await dossier_api.get("/clients", params={"segment": segment, "limit": 2, "offset": 2})).json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 2
    assert [c["code"] for c in page["clients"]] == sorted(fr + [de, settled])[2:4]
    first = page["clients"][0]
    assert Decimal(first["balance"]) in (Decimal("800.00"), Decimal("0.00"))

    bad = await dossier_api.get("/clients", params={"limit": 0, "collector": "x"})
    assert bad.status_code == 422 and error_fields(bad) == ["limit"]
    unknown = await dossier_api.get("/clients", params={"collector": "NOBODY-" + uuid4().hex})
    assert unknown.status_code == 422 and error_fields(unknown) == ["collector"]
    blank_tag = await dossier_api.get("/clients", params={"tag": " "})
    assert blank_tag.status_code == 422 and error_fields(blank_tag) == ["tag"]


async def test_f5_search_by_a_pasted_list_of_codes_reports_unknown_codes(dossier_api) -> None:
    segment = new_code("paste")
    clients = [await create_client(dossier_api, segment=segment) for _ in range(3)]
    pasted = f"{clients[0]}\r\n{clients[1]};\t{clients[2]}\nUNKNOWN-1, {clients[0]}\n\nUNKNOWN-2"
    found = (await dossier_api.post("/clients/search", json={"codes": pasted})).json()
    assert sorted(c["code"] for c in found["clients"]) == sorted(clients)
    assert found["total"] == 3
    assert found["unknown_codes"] == ["UNKNOWN-1", "UNKNOWN-2"]

    # Codes and criteria together: both must hold.
    both = (await dossier_api.post("/clients/search", json={
        "codes": clients[:2], "criteria": {"segment": segment, "has_collector": False}})).json()
    assert sorted(c["code"] for c in both["clients"]) == sorted(clients[:2])

    empty = await dossier_api.post("/clients/search", json={"codes": " ;\n,"})
    assert empty.status_code == 422 and error_fields(empty) == ["codes"]
    typo = await dossier_api.post("/clients/search", json={"criteria": {"segmnt": "x"}})
    assert typo.status_code == 422 and error_fields(typo) == ["criteria.segmnt"]


async def test_f5_saved_searches_are_per_user_and_rerun_on_current_data(dossier_api) -> None:
    segment = new_code("saved")
    first = await create_client(dossier_api, segment=segment)
    name = new_code("my unassigned")
    saved = await dossier_api.post("/searches", json={
        "name": name, "criteria": {"segment": segment, "has_collector": False}})
    assert saved.status_code == 201, saved.text
    search_id = saved.json()["id"]
    assert (await dossier_api.post("/searches", json={"name": name})).status_code == 409
    assert name in {s["name"] for s in (await dossier_api.get("/searches")).json()}

    rerun = (await dossier_api.get(f"/searches/{search_id}/results")).json()
    assert [c["code"] for c in rerun["clients"]] == [first]
    second = await create_client(dossier_api, segment=segment)
    rerun = (await dossier_api.get(f"/searches/{search_id}/results")).json()
    assert [c["code"] for c in rerun["clients"]] == sorted([first, second])  # today's data

    by_codes = await dossier_api.post("/searches", json={"name": new_code("list"),
                                                         "codes": f"{first}\nGONE-1"})
    rerun_codes = (await dossier_api.get(f"/searches/{by_codes.json()['id']}/results")).json()
    assert [c["code"] for c in rerun_codes["clients"]] == [first]
    assert rerun_codes["unknown_codes"] == ["GONE-1"]

    # Another user's searches are not mine.
    other = (await dossier_api.post("/users", json={"name": new_code("mgr"), "role": "manager"})).json()
    async with httpx.AsyncClient(base_url=str(dossier_api.base_url),
                                 headers={"Authorization": f"Bearer {other['token']}"}) as as_other:
        assert (await as_other.get("/searches")).json() == []
        assert (await as_other.get(f"/searches/{search_id}/results")).status_code == 404
        assert (await as_other.delete(f"/searches/{search_id}")).status_code == 404

    assert (await dossier_api.delete(f"/searches/{search_id}")).status_code == 204
    assert (await dossier_api.get(f"/searches/{search_id}/results")).status_code == 404


# ---- mass assignment (F-5) ----------------------------------------------------------------


async def test_f5_mass_assignment_by_pasted_codes_in_one_transaction(dossier_api, db) -> None:
    segment = new_code("mass")
    alice = await create_collector(dossier_api, "ALICE")
    clients = [await create_client(dossier_api, segment=segment) for _ in range(4)]
    await dossier_api.put(f"/clients/{clients[0]}/collector", json={"collector_code": alice})

    response = await dossier_api.post("/assignment/mass", json={
        "codes": "\n".join(clients) + "\nMISSING-9", "collector_code": alice,
        "comment": "portfolio split"})
    assert response.status_code == 200, response.text
    assert response.json() == {"selected": 4, "changed": 3, "unchanged": 1, "unknown_codes": ["MISSING-9"]}
    for code in clients:
        assert await collector_of(dossier_api, code) == alice
    audits = await db.fetch(
        "SELECT entity_id, comment, details->>'source' AS source FROM audit_log"
        " WHERE action = 'change_collector' AND entity_id = ANY($1::text[]) AND comment = 'portfolio split'",
        clients)
    assert sorted(a["entity_id"] for a in audits) == sorted(clients[1:])  # one per changed client
    assert {a["source"] for a in audits} == {"mass"}
    for code in clients[1:]:
        assert [e["payload"]["source"] for e in await collector_events(db, code)] == ["mass"]


async def test_f5_mass_assignment_by_criteria_and_refusals(dossier_api, db) -> None:
    segment = new_code("masscrit")
    bob = await create_collector(dossier_api, "BOB")
    be = [await create_client(dossier_api, segment=segment, country="BE") for _ in range(2)]
    fr = await create_client(dossier_api, segment=segment, country="FR")
    response = await dossier_api.post("/assignment/mass", json={
        "criteria": {"segment": segment, "country": "BE"}, "collector_code": bob})
    assert response.json() == {"selected": 2, "changed": 2, "unchanged": 0, "unknown_codes": []}
    assert [await collector_of(dossier_api, c) for c in be] == [bob, bob]
    assert await collector_of(dossier_api, fr) is None

    everyone = await dossier_api.post("/assignment/mass", json={"collector_code": bob})
    assert everyone.status_code == 422 and error_fields(everyone) == ["criteria"]
    unknown = await dossier_api.post("/assignment/mass", json={
        "criteria": {"segment": segment}, "collector_code": "NOBODY-" + uuid4().hex})
    assert unknown.status_code == 422 and error_fields(unknown) == ["collector_code"]
    assert await collector_of(dossier_api, fr) is None  # nothing half-written


async def test_f5_mass_assignment_on_a_saved_search(dossier_api) -> None:
    segment = new_code("masssaved")
    carol = await create_collector(dossier_api, "CAROL")
    clients = [await create_client(dossier_api, segment=segment, risk="high") for _ in range(2)]
    low = await create_client(dossier_api, segment=segment, risk="low")
    saved = (await dossier_api.post("/searches", json={
        "name": new_code("high risk"), "criteria": {"segment": segment, "risk": "high"}})).json()
    response = await dossier_api.post("/assignment/mass", json={
        "saved_search_id": saved["id"], "collector_code": carol, "comment": "high risk desk"})
    assert response.status_code == 200, response.text
    assert response.json()["changed"] == 2
    assert [await collector_of(dossier_api, c) for c in clients] == [carol, carol]
    assert await collector_of(dossier_api, low) is None

    both = await dossier_api.post("/assignment/mass", json={
        "saved_search_id": saved["id"], "codes": low, "collector_code": carol})
    assert both.status_code == 422 and error_fields(both) == ["saved_search_id"]
    unknown = await dossier_api.post("/assignment/mass", json={
        "saved_search_id": str(uuid4()), "collector_code": carol})
    assert unknown.status_code == 404 and error_fields(unknown) == ["saved_search_id"]


# ---- automatic assignment (F-6) -------------------------------------------------------------


async def test_f6_ordered_rules_then_default_collector_apply_to_new_clients(dossier_api, db, clean_rules) -> None:
    segment = new_code("auto")
    alice, bob = await create_collector(dossier_api, "ALICE"), await create_collector(dossier_api, "BOB")
    default = await create_collector(dossier_api, "DEFAULT")
    rules = await dossier_api.put("/assignment/rules", json={"comment": "2027 portfolios", "rules": [
        {"criteria": {"segment": segment, "country": "FR", "tags": ["transport"]}, "collector_code": alice},
        {"criteria": {"segment": segment}, "collector_code": bob},
    ]})
    assert rules.status_code == 200, rules.text
    assert [(r["position"], r["collector_code"]) for r in rules.json()] == [(1, alice), (2, bob)]
    assert (await dossier_api.get("/assignment/rules")).json() == rules.json()
    assert (await dossier_api.put("/assignment/default-collector",
                                  json={"collector_code": default})).json() == {"collector_code": default}

    transport = await create_client(dossier_api, segment=segment, country="fr", tags=["Transport"])
    other_fr = await create_client(dossier_api, segment=segment, country="FR")
    elsewhere = await create_client(dossier_api, segment=new_code("elsewhere"))
    assert await collector_of(dossier_api, transport) == alice
    assert await collector_of(dossier_api, other_fr) == bob
    assert await collector_of(dossier_api, elsewhere) == default

    audit = await db.fetchrow("SELECT comment, details FROM audit_log WHERE entity_id = $1"
                              " AND action = 'change_collector'", transport)
    assert audit["comment"] == "automatic assignment: rule 1"
    assert audit["details"]["source"] == "automatic"
    events = await collector_events(db, elsewhere)
    assert [(e["payload"]["collector_code"], e["payload"]["source"]) for e in events] == [(default, "automatic")]


async def test_f6_invalid_rules_are_refused_and_the_old_ones_kept(dossier_api, clean_rules) -> None:
    alice = await create_collector(dossier_api, "ALICE")
    good = [{"criteria": {"segment": new_code("keep")}, "collector_code": alice}]
    assert (await dossier_api.put("/assignment/rules", json={"rules": good})).status_code == 200
    empty = await dossier_api.put("/assignment/rules", json={"rules": good + [
        {"criteria": {}, "collector_code": alice}]})
    assert empty.status_code == 422 and error_fields(empty) == ["rules.1.criteria"]
    unknown = await dossier_api.put("/assignment/rules", json={"rules": [
        {"criteria": {"risk": "high"}, "collector_code": "NOBODY-" + uuid4().hex}]})
    assert unknown.status_code == 422 and error_fields(unknown) == ["rules.0.collector_code"]
    kept = (await dossier_api.get("/assignment/rules")).json()
    assert [(r["criteria"]["segment"], r["collector_code"]) for r in kept] == [
        (good[0]["criteria"]["segment"], alice)]


async def test_f6_rules_reapplied_on_demand_to_unassigned_or_to_all_clients(dossier_api, clean_rules) -> None:
    segment = new_code("reapply")
    alice, bob = await create_collector(dossier_api, "ALICE"), await create_collector(dossier_api, "BOB")
    unassigned = await create_client(dossier_api, segment=segment)
    assigned = await create_client(dossier_api, segment=segment)
    await dossier_api.put(f"/clients/{assigned}/collector", json={"collector_code": bob})
    await dossier_api.put("/assignment/rules", json={"rules": [
        {"criteria": {"segment": segment}, "collector_code": alice}]})

    only_unassigned = await dossier_api.post("/assignment/apply", json={"comment": "new rules"})
    assert only_unassigned.status_code == 200, only_unassigned.text
    assert only_unassigned.json()["changed"] == 1
    assert await collector_of(dossier_api, unassigned) == alice
    assert await collector_of(dossier_api, assigned) == bob  # kept

    everyone = await dossier_api.post("/assignment/apply", json={"only_unassigned": False})
    assert everyone.json()["changed"] == 1
    assert await collector_of(dossier_api, assigned) == alice
    again = await dossier_api.post("/assignment/apply", json={"only_unassigned": False})
    assert again.json()["changed"] == 0  # idempotent


async def owing_client(dossier_api, segment: str, *amounts: tuple[str, str, str]) -> str:
    """A client whose open items are these (amount, currency, kind)."""
    code = new_code("CUR")
    items = [{"number": f"F-{n}", "due_date": str(TODAY + timedelta(days=30)), "amount": amount,
              "currency": currency, "kind": kind}
             for n, (amount, currency, kind) in enumerate(amounts, start=1)]
    response = await dossier_api.post("/clients", json={
        "code": code, "name": f"Client {code}", "segment": segment, "items": items})
    assert response.status_code == 201, response.text
    return code


async def test_f43_balance_thresholds_are_read_in_each_currency_never_added_across(
    dossier_api, clean_rules,
) -> None:
    """F-43, F-5, F-6: "balance over 1,000 EUR or 1,400 USD" selects a client owing 1,200
    EUR or 1,500 USD, not one owing 900 EUR and 500 USD (1,400 only when currencies are
    added), in a search and in an assignment rule re-applied on demand."""
    segment = new_code("cur")
    euros = await owing_client(dossier_api, segment, ("1200.00", "EUR", "invoice"))
    dollars = await owing_client(dossier_api, segment, ("1000.00", "USD", "invoice"),
                                 ("500.00", "USD", "invoice"))
    mixed = await owing_client(dossier_api, segment, ("900.00", "EUR", "invoice"),
                               ("500.00", "USD", "invoice"))
    credited = await owing_client(dossier_api, segment, ("1200.00", "EUR", "invoice"),
                                  ("300.00", "EUR", "credit_note"))  # owes 900 EUR

    thresholds = {"EUR": "1000", "usd": "1400"}
    found = await dossier_api.post("/clients/search", json={
        "criteria": {"segment": segment, "balance_over": thresholds}, "limit": 50})
    assert found.status_code == 200, found.text
    assert sorted(c["code"] for c in found.json()["clients"]) == sorted([euros, dollars])

    alice = await create_collector(dossier_api, "ALICE")
    rules = await dossier_api.put("/assignment/rules", json={"rules": [
        {"criteria": {"segment": segment, "balance_over": thresholds}, "collector_code": alice}]})
    assert rules.status_code == 200, rules.text
    assert rules.json()[0]["criteria"]["balance_over"] == {"EUR": "1000", "USD": "1400"}
    applied = await dossier_api.post("/assignment/apply", json={"comment": "big accounts"})
    assert applied.status_code == 200, applied.text
    assert [await collector_of(dossier_api, c) for c in (euros, dollars, mixed, credited)] == [
        alice, alice, None, None]


async def test_f43_a_threshold_names_a_currency_and_an_amount_of_zero_or_more(dossier_api) -> None:
    for thresholds, reason in (({"euro": "1000"}, "not a currency code"),
                               ({"EUR": "-5"}, "zero or more"),
                               ({"EUR": "lots"}, "decimal")):
        refused = await dossier_api.post("/clients/search", json={
            "criteria": {"balance_over": thresholds}})
        assert refused.status_code == 422, refused.text
        error = refused.json()["errors"][0]
        assert error["field"].startswith("criteria.balance_over"), error
        assert reason in error["reason"].lower(), error


# ---- alert (F-7) ------------------------------------------------------------------------------


async def test_f7_alert_lists_clients_owing_money_without_collector(dossier_api) -> None:
    segment = new_code("alert")
    alice = await create_collector(dossier_api, "ALICE")
    owing = await create_client(dossier_api, segment=segment, amount="1500.00")
    settled = await create_client(dossier_api, segment=segment, amount=None)
    owing_assigned = await create_client(dossier_api, segment=segment)
    await dossier_api.put(f"/clients/{owing_assigned}/collector", json={"collector_code": alice})

    async def alert_codes() -> dict[str, str]:
        response = await dossier_api.get("/alerts/clients-without-collector", params={"limit": 1000})
        assert response.status_code == 200, response.text
        return {c["code"]: c["balance"] for c in response.json()["clients"]}

    listed = await alert_codes()
    assert Decimal(listed[owing]) == Decimal("1500.00")
    assert settled not in listed and owing_assigned not in listed
    await dossier_api.put(f"/clients/{owing}/collector", json={"collector_code": alice})
    assert owing not in await alert_codes()


# ---- agenda follows the client (F-8) ----------------------------------------------------------


async def add_pending_interventions(db, client: str, due_in_days: list[int]) -> list[str]:
    """Pending actions on the client's active dossier, written as the scenario workflow
    writes them when a step falls due (F-10); the workflow only opens a step on its due
    date, and this test is about whose agenda shows them, not about when they open."""
    dossier = await db.fetchrow(
        "SELECT d.id, d.client_id FROM dossiers d JOIN clients c ON c.id = d.client_id"
        " WHERE c.code = $1 AND d.kind = 'active'", client)
    ids = []
    for days in due_in_days:
        intervention_id = uuid4()
        await db.execute(
            "INSERT INTO interventions (id, dossier_id, client_id, origin, action_type, mode, due_at)"
            " VALUES ($1, $2, $3, 'manual', 'call', 'manual', now() + make_interval(days => $4))",
            intervention_id, dossier["id"], dossier["client_id"], days)
        ids.append(str(intervention_id))
    return ids


async def test_f8_pending_actions_move_to_the_new_collectors_agenda(dossier_api, db) -> None:
    alice, bob = await create_collector(dossier_api, "ALICE"), await create_collector(dossier_api, "BOB")
    client = await create_client(dossier_api, segment="agenda")
    other = await create_client(dossier_api, segment="agenda")
    await dossier_api.put(f"/clients/{client}/collector", json={"collector_code": alice})
    await dossier_api.put(f"/clients/{other}/collector", json={"collector_code": bob})
    later, sooner = await add_pending_interventions(db, client, [10, 2])
    (bobs_own,) = await add_pending_interventions(db, other, [5])
    done = (await add_pending_interventions(db, client, [1]))[0]
    await db.execute("UPDATE interventions SET status = 'done', completed_at = now() WHERE id = $1",
                     UUID(done))

    async def agenda(collector: str) -> list[str]:
        response = await dossier_api.get(f"/collectors/{collector}/agenda")
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()]

    assert await agenda(alice) == [sooner, later]  # due first, first; done ones are not pending
    assert await agenda(bob) == [bobs_own]
    moved = await dossier_api.put(f"/clients/{client}/collector",
                                  json={"collector_code": bob, "comment": "reassigned"})
    assert moved.json()["changed"] is True
    assert await agenda(bob) == [sooner, bobs_own, later]  # merged by due date
    assert await agenda(alice) == []
    entry = (await dossier_api.get(f"/collectors/{bob}/agenda")).json()[0]
    assert (entry["client_code"], entry["status"], entry["action_type"]) == (client, "todo", "call")

    # After a mass reassignment too (F-5 + F-8).
    await dossier_api.post("/assignment/mass", json={"codes": [client, other], "collector_code": alice})
    assert await agenda(alice) == [sooner, bobs_own, later]
    assert (await dossier_api.get("/collectors/NOBODY-x/agenda")).status_code == 404


async def test_f5_overlapping_mass_assignments_neither_deadlock_nor_lose_a_change(dossier_api, db) -> None:
    segment = new_code("overlap")
    alice, bob = await create_collector(dossier_api, "ALICE"), await create_collector(dossier_api, "BOB")
    clients = [await create_client(dossier_api, segment=segment, amount=None) for _ in range(20)]
    first, second = await asyncio.gather(
        dossier_api.post("/assignment/mass", json={"codes": clients, "collector_code": alice}),
        dossier_api.post("/assignment/mass", json={"codes": clients[::-1], "collector_code": bob}),
    )
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert first.json()["changed"] == second.json()["changed"] == 20  # the later one moves them all
    final = {await collector_of(dossier_api, c) for c in clients}
    assert len(final) == 1 and final <= {alice, bob}
    audits = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'change_collector'"
                               " AND entity_id = ANY($1::text[])", clients)
    events = await db.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'client.collector_changed'"
                               " AND event->'payload'->>'code' = ANY($1::text[])", clients)
    assert audits == events == 40
