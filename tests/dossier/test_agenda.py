"""Action management and the collectors' agenda (F-14, F-19, F-4, F-8): interventions To
do and specific actions across open dossiers, sortable by priority, collector and date; a
user linked to a collector sees that collector's agenda by default."""

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest

from tests.conftest import eventually


@pytest.fixture(scope="module")
async def manual_call(dossier_api) -> str:
    code = f"sc-ag-{uuid4().hex[:6]}"
    response = await dossier_api.post("/scenarios", json={"code": code, "name": "x", "steps": [
        {"action_type": "call", "delay_days": 0, "mode": "manual", "priority": 2}]})
    assert response.status_code == 201, response.text
    return code


async def _collector_with_user(dossier_api, platform) -> tuple[str, httpx.AsyncClient]:
    code = f"K-{uuid4().hex[:6]}"
    assert (await dossier_api.post("/collectors", json={"code": code, "name": code})).status_code == 201
    user = await dossier_api.post("/users", json={"name": f"user-{code}", "role": "collector",
                                                  "collector_code": code})
    assert user.status_code == 201, user.text
    client = httpx.AsyncClient(base_url=platform.running["dossier"].url, timeout=30,
                               headers={"Authorization": f"Bearer {user.json()['token']}"})
    return code, client


async def _client(dossier_api, scenario: str, collector: str) -> tuple[str, dict[str, str]]:
    code = f"AG-{uuid4().hex[:8]}"
    response = await dossier_api.post("/clients", json={
        "code": code, "name": "Agenda SA", "scenario_code": scenario,
        "items": [{"number": n, "due_date": str(date.today() - timedelta(days=5)),
                   "amount": "100.00"} for n in ("F-1", "F-2")]})
    assert response.status_code == 201, response.text
    assigned = await dossier_api.put(f"/clients/{code}/collector", json={"collector_code": collector})
    assert assigned.status_code == 200, assigned.text
    return code, {i["number"]: i["id"] for i in response.json()["open_items"]}


async def test_f14_f4_agenda_of_the_callers_collector_by_default(dossier_api, platform, manual_call):
    mine, my_api = await _collector_with_user(dossier_api, platform)
    other, other_api = await _collector_with_user(dossier_api, platform)
    async with my_api, other_api:
        my_client, items = await _client(dossier_api, manual_call, mine)
        other_client, _ = await _client(dossier_api, manual_call, other)
        in_3_days = datetime.now(UTC) + timedelta(days=3)
        action = (await dossier_api.post(f"/clients/{my_client}/specific-actions", json={
            "item_ids": [items["F-1"]],
            "next": {"follow": "action", "action_type": "call", "priority": 5,
                     "due_at": in_3_days.isoformat()}})).json()["action"]

        async def my_agenda():
            rows = (await my_api.get("/agenda")).json()
            return rows if len(rows) == 2 else None

        # F-4: no parameter: the caller's collector; the call step (on F-2: F-1 is under
        # the action, F-15) and the action (F-19).
        rows = await eventually(my_agenda, timeout=60)
        assert {r["client_code"] for r in rows} == {my_client}
        assert [r["kind"] for r in rows] == ["intervention", "specific_action"]  # by date
        assert [r["collector_code"] for r in rows] == [mine, mine]
        by_priority = (await my_api.get("/agenda", params={"sort": "priority", "desc": "true"})).json()
        assert [r["id"] for r in by_priority][0] == action["id"]

        # A collector sees neither another collector's agenda nor their clients' actions.
        assert (await my_api.get("/agenda", params={"collector": other})).status_code == 404
        assert (await my_api.get("/actions", params={"client": other_client})).json() == []

        # An admin has no collector: they name one.
        no_collector = await dossier_api.get("/agenda")
        assert no_collector.status_code == 422
        assert no_collector.json()["errors"][0]["field"] == "collector"

        async def other_agenda():
            rows = (await dossier_api.get("/agenda", params={"collector": other})).json()
            return rows or None

        rows = await eventually(other_agenda, timeout=60)
        assert {r["client_code"] for r in rows} == {other_client}
        unknown = await dossier_api.get("/agenda", params={"collector": "nobody"})
        assert unknown.status_code == 422

        # F-14: across open dossiers, filtered and sorted by collector.
        both = (await dossier_api.get("/actions", params={"sort": "collector", "limit": 1000})).json()
        ours = [r["collector_code"] for r in both if r["client_code"] in (my_client, other_client)]
        assert ours == sorted(ours) and set(ours) == {mine, other}
        calls = (await dossier_api.get("/actions", params={"collector": mine,
                                                           "action_type": "call"})).json()
        assert len(calls) == 2
        bad_sort = await dossier_api.get("/actions", params={"sort": "colour"})
        assert bad_sort.status_code == 422 and bad_sort.json()["errors"][0]["field"] == "sort"

        # F-8: the client changes collector; its actions follow it.
        moved = await dossier_api.put(f"/clients/{my_client}/collector", json={"collector_code": other})
        assert moved.status_code == 200
        assert (await my_api.get("/agenda")).json() == []
        assert len((await other_api.get("/agenda")).json()) == 3


async def test_f14_an_intervention_to_do_of_a_dossier_that_is_not_open_is_not_on_the_agenda(
    dossier_api, platform, db, manual_call
):
    collector, collector_api = await _collector_with_user(dossier_api, platform)
    async with collector_api:
        code, _ = await _client(dossier_api, manual_call, collector)

        async def agenda():
            return (await collector_api.get("/agenda")).json()

        [call] = await eventually(agenda, timeout=60)
        assert (call["client_code"], call["kind"]) == (code, "intervention")
        dossier_id = await db.fetchval(
            "SELECT dossier_id FROM interventions WHERE id = $1", UUID(call["id"]))
        await db.execute("UPDATE dossiers SET state = 'closed' WHERE id = $1", dossier_id)
        try:
            assert await agenda() == []
            assert (await dossier_api.get("/actions", params={"client": code})).json() == []
        finally:
            await db.execute("UPDATE dossiers SET state = 'open' WHERE id = $1", dossier_id)
        assert [r["id"] for r in await agenda()] == [call["id"]]
