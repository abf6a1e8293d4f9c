"""Users, roles and scoping on the real stack (F-4, F-33): an admin creates users with a
role and an optional collector link and gets their API token once; a collector reads and
changes only the clients of their collector (others answer 404, as if they did not
exist); read-only users change nothing (403); managers see every client; a deactivated
user's token stops working at once."""

from contextlib import asynccontextmanager
from datetime import date, timedelta
from uuid import uuid4

import httpx

TODAY = date.today()


def new_code(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:10]}"


@asynccontextmanager
async def api_as(dossier_api: httpx.AsyncClient, token: str):
    async with httpx.AsyncClient(
        base_url=str(dossier_api.base_url), timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


async def create_collector(dossier_api, prefix: str = "COL") -> str:
    code = new_code(prefix)
    response = await dossier_api.post("/collectors", json={"code": code, "name": f"Collector {code}",
                                                           "email": f"{code.lower()}@relance.example"})
    assert response.status_code == 201, response.text
    return code


async def create_user(dossier_api, role: str, collector_code: str | None = None) -> dict:
    body = {"name": new_code(role), "role": role, "email": "someone@relance.example"}
    if collector_code:
        body["collector_code"] = collector_code
    response = await dossier_api.post("/users", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def create_client(dossier_api, collector_code: str | None, amount: str = "500.00") -> str:
    code = new_code("ROLE")
    response = await dossier_api.post("/clients", json={
        "code": code, "name": f"Client {code}", "segment": "roles-test",
        "items": [{"number": "F-1", "due_date": str(TODAY + timedelta(days=30)), "amount": amount}],
    })
    assert response.status_code == 201, response.text
    if collector_code:
        assigned = await dossier_api.put(f"/clients/{code}/collector",
                                         json={"collector_code": collector_code, "comment": "setup"})
        assert assigned.status_code == 200, assigned.text
    return code


def error_fields(response) -> list[str | None]:
    return [e["field"] for e in response.json()["errors"]]


# ---- users (F-4) ------------------------------------------------------------------------


async def test_f4_admin_creates_a_collector_user_whose_token_is_shown_once_and_works(dossier_api, db) -> None:
    collector = await create_collector(dossier_api)
    user = await create_user(dossier_api, "collector", collector)
    assert user["token"].startswith("rl_")
    assert user["role"] == "collector" and user["collector_code"] == collector and user["active"]

    listed = (await dossier_api.get("/users")).json()
    mine = next(u for u in listed if u["id"] == user["id"])
    assert "token" not in mine  # never shown again
    assert mine["collector_code"] == collector
    # Only the hash is stored.
    stored = await db.fetchval("SELECT token_sha256 FROM users WHERE id = $1", user["id"])
    assert stored != user["token"] and len(stored) == 64

    async with api_as(dossier_api, user["token"]) as as_user:
        me = (await as_user.get("/users/me")).json()
    assert me["name"] == user["name"] and me["role"] == "collector" and me["collector_code"] == collector

    audit = await db.fetchrow("SELECT actor, action FROM audit_log WHERE entity = 'user' AND entity_id = $1",
                              user["id"])
    assert audit["actor"] == "user:admin" and audit["action"] == "create"  # F-33


async def test_f4_bad_user_input_names_the_field(dossier_api) -> None:
    no_link = await dossier_api.post("/users", json={"name": "x", "role": "collector"})
    assert no_link.status_code == 422 and error_fields(no_link) == ["collector_code"]
    unknown = await dossier_api.post("/users", json={"name": "x", "role": "manager",
                                                     "collector_code": "NOBODY-" + uuid4().hex})
    assert unknown.status_code == 422 and error_fields(unknown) == ["collector_code"]
    bad_role = await dossier_api.post("/users", json={"name": "x", "role": "boss"})
    assert bad_role.status_code == 422 and error_fields(bad_role) == ["role"]
    bad_email = await dossier_api.post("/users", json={"name": "x", "role": "manager", "email": "nope"})
    assert bad_email.status_code == 422 and error_fields(bad_email) == ["email"]


async def test_f4_only_an_admin_manages_users(dossier_api) -> None:
    manager = await create_user(dossier_api, "manager")
    async with api_as(dossier_api, manager["token"]) as as_manager:
        assert (await as_manager.post("/users", json={"name": "x", "role": "admin"})).status_code == 403
        assert (await as_manager.get("/users")).status_code == 403


async def test_f4_deactivated_user_token_stops_working(dossier_api, db) -> None:
    user = await create_user(dossier_api, "read_only")
    async with api_as(dossier_api, user["token"]) as as_user:
        assert (await as_user.get("/users/me")).status_code == 200
        response = await dossier_api.post(f"/users/{user['id']}/deactivate")
        assert response.status_code == 200 and response.json()["active"] is False
        assert (await as_user.get("/users/me")).status_code == 401
    listed = (await dossier_api.get("/users")).json()
    assert user["id"] not in {u["id"] for u in listed}
    assert user["id"] in {u["id"] for u in (await dossier_api.get("/users?include_inactive=true")).json()}
    assert (await dossier_api.post(f"/users/{uuid4()}/deactivate")).status_code == 404


# ---- scoping by role (F-4) ---------------------------------------------------------------


async def test_f4_collector_cannot_read_or_change_another_collectors_client(dossier_api) -> None:
    alice, bob = await create_collector(dossier_api, "ALICE"), await create_collector(dossier_api, "BOB")
    alice_client, bob_client = await create_client(dossier_api, alice), await create_client(dossier_api, bob)
    unassigned = await create_client(dossier_api, None)
    alice_user = await create_user(dossier_api, "collector", alice)

    async with api_as(dossier_api, alice_user["token"]) as as_alice:
        assert (await as_alice.get(f"/clients/{alice_client}")).status_code == 200
        for other in (bob_client, unassigned):
            hidden = await as_alice.get(f"/clients/{other}")
            assert hidden.status_code == 404, hidden.text  # as if it did not exist
            for part in ("interventions", "communications", "contacts", "audit"):
                assert (await as_alice.get(f"/clients/{other}/{part}")).status_code == 404, part
            change = await as_alice.put(f"/clients/{other}/collector",
                                        json={"collector_code": alice, "comment": "mine now?"})
            assert change.status_code == 404

        # Lists and searches only ever reach Alice's clients.
        listed = (await as_alice.get("/clients", params={"segment": "roles-test", "limit": 500})).json()
        assert {c["code"] for c in listed["clients"]} == {alice_client}
        everything = (await as_alice.get("/clients", params={"mine": "false", "limit": 500})).json()
        assert {c["collector_code"] for c in everything["clients"]} == {alice}
        searched = (await as_alice.post("/clients/search", json={
            "codes": f"{alice_client}\n{bob_client}\n{unassigned}"})).json()
        assert [c["code"] for c in searched["clients"]] == [alice_client]
        assert searched["unknown_codes"] == [bob_client, unassigned]

        # Agendas: her own, not Bob's; and the alert list is for supervisors.
        assert (await as_alice.get(f"/collectors/{alice}/agenda")).status_code == 200
        assert (await as_alice.get(f"/collectors/{bob}/agenda")).status_code == 404
        assert (await as_alice.get("/alerts/clients-without-collector")).status_code == 403

        # Mass assignment by a collector only touches her clients.
        mass = await as_alice.post("/assignment/mass", json={
            "codes": [alice_client, bob_client], "collector_code": alice, "comment": "try"})
        assert mass.status_code == 200, mass.text
        assert mass.json()["selected"] == 1 and mass.json()["unknown_codes"] == [bob_client]

    bob_card = (await dossier_api.post("/clients/search", json={"codes": bob_client})).json()
    assert bob_card["clients"][0]["collector_code"] == bob  # untouched


async def test_f4_collector_may_hand_their_client_to_a_colleague_then_loses_it(dossier_api, db) -> None:
    alice, bob = await create_collector(dossier_api, "ALICE"), await create_collector(dossier_api, "BOB")
    client = await create_client(dossier_api, alice)
    alice_user = await create_user(dossier_api, "collector", alice)
    async with api_as(dossier_api, alice_user["token"]) as as_alice:
        response = await as_alice.put(f"/clients/{client}/collector",
                                      json={"collector_code": bob, "comment": "Bob handles transport"})
        assert response.status_code == 200 and response.json()["changed"] is True
        assert (await as_alice.get(f"/clients/{client}")).status_code == 404
    audit = await db.fetchrow(
        "SELECT actor, comment FROM audit_log WHERE entity_id = $1 AND action = 'change_collector'"
        " ORDER BY id DESC LIMIT 1", client)
    assert audit["actor"] == f"user:{alice_user['name']}" and audit["comment"] == "Bob handles transport"


async def test_f4_read_only_reads_everything_and_changes_nothing(dossier_api) -> None:
    alice = await create_collector(dossier_api, "ALICE")
    client = await create_client(dossier_api, alice)
    reader = await create_user(dossier_api, "read_only")
    async with api_as(dossier_api, reader["token"]) as as_reader:
        assert (await as_reader.get(f"/clients/{client}")).status_code == 200
        assert (await as_reader.get(f"/collectors/{alice}/agenda")).status_code == 200
        assert (await as_reader.get("/alerts/clients-without-collector")).status_code == 200
        for method, path, body in (
            ("PUT", f"/clients/{client}/collector", {"collector_code": None}),
            ("POST", "/assignment/mass", {"codes": client, "collector_code": None}),
            ("POST", "/clients", {"code": new_code("RO"), "name": "x"}),
            ("POST", "/collectors", {"code": new_code("RO"), "name": "x"}),
            ("PUT", "/assignment/default-collector", {"collector_code": None}),
        ):
            response = await as_reader.request(method, path, json=body)
            assert response.status_code == 403, (path, response.text)
    after = (await dossier_api.post("/clients/search", json={"codes": client})).json()
    assert after["clients"][0]["collector_code"] == alice


async def test_f4_manager_sees_all_clients_and_a_linked_manager_defaults_to_their_own(dossier_api) -> None:
    alice, bob = await create_collector(dossier_api, "ALICE"), await create_collector(dossier_api, "BOB")
    alice_client, bob_client = await create_client(dossier_api, alice), await create_client(dossier_api, bob)
    manager = await create_user(dossier_api, "manager")
    linked = await create_user(dossier_api, "manager", alice)
    codes = f"{alice_client},{bob_client}"
    async with api_as(dossier_api, manager["token"]) as as_manager:
        assert (await as_manager.get(f"/clients/{bob_client}")).status_code == 200
        found = (await as_manager.post("/clients/search", json={"codes": codes})).json()
        assert {c["code"] for c in found["clients"]} == {alice_client, bob_client}
    async with api_as(dossier_api, linked["token"]) as as_linked:
        by_default = (await as_linked.post("/clients/search", json={"codes": codes})).json()
        assert [c["code"] for c in by_default["clients"]] == [alice_client]  # F-4: by default
        everything = (await as_linked.post("/clients/search", json={"codes": codes, "mine": False})).json()
        assert {c["code"] for c in everything["clients"]} == {alice_client, bob_client}
        assert (await as_linked.get(f"/clients/{bob_client}")).status_code == 200


async def test_f4_a_client_created_by_a_collector_is_theirs_and_shows_its_collector_on_the_card(dossier_api) -> None:
    collector = await create_collector(dossier_api)
    user = await create_user(dossier_api, "collector", collector)
    code = new_code("MINE")
    async with api_as(dossier_api, user["token"]) as mine:
        created = await mine.post("/clients", json={"code": code, "name": f"Client {code}"})
        assert created.status_code == 201, created.text
        assert created.json()["client"]["collector_code"] == collector
        card = await mine.get(f"/clients/{code}")
    assert card.status_code == 200
    assert card.json()["client"]["collector_code"] == collector
