"""Updating a client account with optimistic concurrency (F-1), its audit trail read
back per client (F-33), and the `client.updated` event, on the real stack."""

import asyncio

from tests.dossier.test_contacts import audit_of, collector_api, events_of, new_client, read_only_api
from tests.dossier.test_dossier_api import errors_of


async def read_card(api, code: str) -> tuple[dict, str]:
    response = await api.get(f"/clients/{code}")
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]


async def test_f1_the_card_carries_the_clients_version_as_etag(dossier_api) -> None:
    card = await new_client(dossier_api)

    read, etag = await read_card(dossier_api, card["client"]["code"])

    assert read["client"]["version"] == 1
    assert etag == '"1"'


async def test_f1_update_with_the_read_etag_changes_the_fields_sent_and_bumps_the_version(dossier_api, db) -> None:
    card = await new_client(dossier_api, category="B2B", risk="low")
    code, client_id = card["client"]["code"], card["client"]["id"]
    _, etag = await read_card(dossier_api, code)

    response = await dossier_api.patch(
        f"/clients/{code}",
        json={"name": "Transports Martin SA", "risk": "high", "tags": ["transport", "watch"],
              "segment": None, "comment": "changement de forme juridique"},
        headers={"If-Match": etag},
    )

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    client = response.json()["client"]
    assert (client["name"], client["risk"], client["tags"], client["segment"], client["version"]) == (
        "Transports Martin SA", "high", ["transport", "watch"], None, 2)
    assert (client["category"], client["country"]) == ("B2B", "FR")  # not sent: kept
    [entry] = [e for e in await audit_of(dossier_api, code) if e["action"] == "update"]
    assert (entry["actor"], entry["entity"], entry["comment"]) == (
        "user:admin", "client", "changement de forme juridique")
    assert entry["details"]["changed"] == {
        "name": {"from": "Transports Martin SARL", "to": "Transports Martin SA"},
        "risk": {"from": "low", "to": "high"},
        "tags": {"from": ["transport"], "to": ["transport", "watch"]},
        "segment": {"from": "SME", "to": None},
    }
    [event] = await events_of(db, client_id, "client.updated")
    assert event["payload"]["changed"] == {
        "name": "Transports Martin SA", "risk": "high", "tags": ["transport", "watch"], "segment": None}
    assert event["actor"] == "user:admin"


async def test_f1_update_with_a_stale_etag_is_refused_with_409_and_changes_nothing(dossier_api, db) -> None:
    card = await new_client(dossier_api)
    code = card["client"]["code"]
    _, etag = await read_card(dossier_api, code)
    first = await dossier_api.patch(f"/clients/{code}", json={"risk": "medium"}, headers={"If-Match": etag})
    assert first.status_code == 200, first.text

    stale = await dossier_api.patch(f"/clients/{code}", json={"risk": "low"}, headers={"If-Match": etag})

    assert stale.status_code == 409
    [(field, reason)] = errors_of(stale)
    assert field == "If-Match" and "version 1, now 2" in reason
    read, _ = await read_card(dossier_api, code)
    assert (read["client"]["risk"], read["client"]["version"]) == ("medium", 2)
    assert len(await events_of(db, card["client"]["id"], "client.updated")) == 1


async def test_f1_two_concurrent_updates_with_the_same_etag_one_wins(dossier_api, db) -> None:
    card = await new_client(dossier_api)
    code = card["client"]["code"]
    _, etag = await read_card(dossier_api, code)

    responses = await asyncio.gather(*(
        dossier_api.patch(f"/clients/{code}", json={"risk": risk}, headers={"If-Match": etag})
        for risk in ("low", "medium", "high")
    ))

    assert sorted(r.status_code for r in responses) == [200, 409, 409]
    winner = next(r for r in responses if r.status_code == 200).json()["client"]["risk"]
    read, new_etag = await read_card(dossier_api, code)
    assert (read["client"]["risk"], new_etag) == (winner, '"2"')


async def test_f1_update_without_if_match_is_refused_with_428(dossier_api) -> None:
    code = (await new_client(dossier_api))["client"]["code"]

    response = await dossier_api.patch(f"/clients/{code}", json={"risk": "high"})

    assert response.status_code == 428
    assert errors_of(response)[0][0] == "If-Match"
    assert (await read_card(dossier_api, code))[0]["client"]["risk"] is None


async def test_f1_bad_update_fields_are_named_and_nothing_is_written(dossier_api) -> None:
    code = (await new_client(dossier_api))["client"]["code"]
    _, etag = await read_card(dossier_api, code)

    cases = {
        "name": {"name": ""},
        "country": {"country": "FRA"},
        "locale": {"locale": "french"},
        "scenario_code": {"scenario_code": "NO-SUCH-SCENARIO"},
        "code": {"code": "OTHER-CODE"},  # the ERP key is not changed by an update
    }
    for field, body in cases.items():
        response = await dossier_api.patch(f"/clients/{code}", json=body, headers={"If-Match": etag})
        assert response.status_code == 422, (field, response.text)
        assert errors_of(response)[0][0] == field
    null_name = await dossier_api.patch(f"/clients/{code}", json={"name": None}, headers={"If-Match": etag})
    assert errors_of(null_name) == [("name", "must not be null")]
    read, after = await read_card(dossier_api, code)
    assert (read["client"]["name"], after) == ("Transports Martin SARL", etag)


async def test_f1_a_collector_updates_only_their_clients(dossier_api, platform, db) -> None:
    mine = (await new_client(dossier_api))["client"]["code"]
    other = (await new_client(dossier_api))["client"]["code"]
    async with await collector_api(platform, db, mine) as collector:
        ok = await collector.patch(f"/clients/{mine}", json={"risk": "high"}, headers={"If-Match": '"1"'})
        hidden = await collector.patch(f"/clients/{other}", json={"risk": "high"}, headers={"If-Match": '"1"'})
    async with await read_only_api(platform, db) as reader:
        refused = await reader.patch(f"/clients/{mine}", json={"risk": "low"}, headers={"If-Match": '"2"'})

    assert ok.status_code == 200, ok.text
    assert hidden.status_code == 404 and refused.status_code == 403
    assert (await read_card(dossier_api, other))[0]["client"]["risk"] is None


# ---- F-33: the audit trail, newest first, paginated --------------------------------------


async def test_f33_audit_lists_who_when_what_and_why_newest_first_paginated(dossier_api) -> None:
    card = await new_client(dossier_api)
    code = card["client"]["code"]
    for i in range(4):
        await dossier_api.post(f"/clients/{code}/notes", json={"text": f"note {i}"})

    first = (await dossier_api.get(f"/clients/{code}/audit", params={"limit": 3})).json()
    second = (await dossier_api.get(f"/clients/{code}/audit",
                                    params={"limit": 3, "offset": first["next_offset"]})).json()

    assert (first["total"], first["next_offset"], second["next_offset"]) == (5, 3, None)
    entries = first["entries"] + second["entries"]
    assert [(e["action"], e["entity"]) for e in entries] == [("create", "note")] * 4 + [("create", "client")]
    assert all(e["actor"] == "user:admin" and e["at"] for e in entries)
    times = [e["at"] for e in entries]
    assert times == sorted(times, reverse=True)
    assert entries[-1]["entity_id"] == code


async def test_f33_a_collector_cannot_read_the_audit_of_another_collectors_client(dossier_api, platform, db) -> None:
    code = (await new_client(dossier_api))["client"]["code"]
    async with await collector_api(platform, db) as stranger:
        hidden = await stranger.get(f"/clients/{code}/audit")
    bad_limit = await dossier_api.get(f"/clients/{code}/audit", params={"limit": 0})

    assert hidden.status_code == 404
    assert (bad_limit.status_code, errors_of(bad_limit)[0][0]) == (422, "limit")
