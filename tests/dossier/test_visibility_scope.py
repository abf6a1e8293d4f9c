"""Who sees what (F-4, seeds 001 and 004; issue 10): CLIENT_VISIBILITY decides which
clients a collector may open. `all` (the seeds' default): any collector opens any client
card and reads its note pad, while their lists and agenda show their own clients unless
they ask for more; `team`: the clients of their team's collectors; `own`: only theirs.
Every opening of another collector's client is in that client's audit trail.

The platform under test runs the strict `own` scope (the access matrix walks it); each
scope here is a dossier API of its own, in process, on the same database."""

from uuid import uuid4

import httpx
import pytest

from relance.api.auth import Role
from relance_dossier.api.app import create_app
from relance_dossier.api.auth import create_user
from relance_dossier.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.dossier.test_dossier_api import client_body, invoice, new_code


@pytest.fixture(scope="module")
async def people(dossier_api, db) -> dict:
    """Three collectors, Anne and Bruno in team North, Chloé in South, each with one client
    and a note on it; and a token for each collector's user."""
    team = f"north-{uuid4().hex[:6]}"
    people: dict = {}
    for who, team_of in (("anne", team), ("bruno", team), ("chloe", f"south-{uuid4().hex[:6]}")):
        code = f"K-{who.upper()}-{uuid4().hex[:6]}"
        created = await dossier_api.post("/collectors", json={"code": code, "name": who, "team": team_of})
        assert created.status_code == 201, created.text
        assert created.json()["team"] == team_of
        client = new_code("VIS")
        response = await dossier_api.post("/clients", json=client_body(
            client, items=[invoice("F-1", "100.00", due_in_days=-10)]))
        assert response.status_code == 201, response.text
        assigned = await dossier_api.put(f"/clients/{client}/collector", json={"collector_code": code})
        assert assigned.status_code == 200, assigned.text
        note = await dossier_api.post(f"/clients/{client}/notes", json={"text": f"Note of {who}"})
        assert note.status_code == 201, note.text
        token = f"rl_test_{uuid4().hex}"
        async with db.acquire() as conn:
            await create_user(conn, name=f"{who}-{uuid4().hex[:6]}", role=Role.COLLECTOR, token=token,
                              collector_id=created.json()["id"])
        people[who] = {"client": client, "token": token, "collector": code}
    return people


def _api_with_scope(stack, scope: str, tmp_path):
    settings = Settings(
        database_url=stack.database_url, temporal_address=stack.temporal_address,
        bootstrap_admin_token=ADMIN_TOKEN, data_dir=tmp_path, migrate_on_start=False,
        client_visibility=scope,
    )
    return create_app(settings)


async def _as(app, token: str):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                             headers={"Authorization": f"Bearer {token}"}, timeout=30)


async def _codes(api, **params) -> set[str]:
    response = await api.get("/clients", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return {row["code"] for row in response.json()["clients"]}


async def _foreign_reads(dossier_api, client: str) -> list[dict]:
    entries = (await dossier_api.get(f"/clients/{client}/audit", params={"limit": 500})).json()["entries"]
    return [e for e in entries if e["action"] == "read_other_collectors_client"]


async def test_f4_scope_all_any_collector_opens_any_card_and_its_note_pad_lists_stay_their_own(
    stack, dossier_api, people, tmp_path
) -> None:
    app = _api_with_scope(stack, "all", tmp_path)
    async with app.router.lifespan_context(app), await _as(app, people["anne"]["token"]) as anne:
        chloe_client = people["chloe"]["client"]
        card = await anne.get(f"/clients/{chloe_client}")
        assert card.status_code == 200, card.text
        notes = await anne.get(f"/clients/{chloe_client}/notes")
        assert notes.status_code == 200
        assert [n["text"] for n in notes.json()] == ["Note of chloe"]
        # Her lists show her own clients by default; asking for every client shows the others.
        assert await _codes(anne) == {people["anne"]["client"]}
        assert await _codes(anne, collector=people["chloe"]["collector"]) == set()
        assert await _codes(anne, collector=people["chloe"]["collector"], mine="false") == {chloe_client}
        agenda = await anne.get("/agenda")
        assert agenda.status_code == 200
        assert {a["client_code"] for a in agenda.json()} <= {people["anne"]["client"]}

    reads = await _foreign_reads(dossier_api, chloe_client)
    assert reads and all(r["actor"].startswith("user:anne-") for r in reads)
    assert {r["details"]["through"] for r in reads} == {"code"}
    # Her own client's card is no foreign read.
    assert await _foreign_reads(dossier_api, people["anne"]["client"]) == []


async def test_f4_scope_team_opens_the_teams_clients_and_not_the_others(
    stack, people, tmp_path
) -> None:
    app = _api_with_scope(stack, "team", tmp_path)
    async with app.router.lifespan_context(app), await _as(app, people["anne"]["token"]) as anne:
        assert (await anne.get(f"/clients/{people['bruno']['client']}")).status_code == 200
        assert (await anne.get(f"/clients/{people['chloe']['client']}")).status_code == 404
        assert (await anne.get(f"/collectors/{people['bruno']['collector']}/agenda")).status_code == 200
        assert (await anne.get(f"/collectors/{people['chloe']['collector']}/agenda")).status_code == 404
        assert await _codes(anne, mine="false") == {people["anne"]["client"], people["bruno"]["client"]}
        assert await _codes(anne, collector=people["chloe"]["collector"], mine="false") == set()


async def test_f4_scope_own_is_strict(stack, people, tmp_path) -> None:
    app = _api_with_scope(stack, "own", tmp_path)
    async with app.router.lifespan_context(app), await _as(app, people["anne"]["token"]) as anne:
        assert (await anne.get(f"/clients/{people['anne']['client']}")).status_code == 200
        for other in ("bruno", "chloe"):
            response = await anne.get(f"/clients/{people[other]['client']}")
            assert response.status_code == 404
            assert (await anne.get(f"/clients/{people[other]['client']}/notes")).status_code == 404
        assert await _codes(anne, mine="false") == await _codes(anne) == {people["anne"]["client"]}


def test_an_unknown_scope_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="client_visibility"):
        Settings(client_visibility="everyone")
