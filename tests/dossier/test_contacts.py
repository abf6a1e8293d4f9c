"""Contacts and their channels through the dossier API on the real stack (F-21, F-22),
with their audit entries (F-33), their `contact.*` events, and the roles rules."""

import asyncio
from typing import Any
from uuid import uuid4

import httpx

from relance.api.auth import Role
from relance_dossier.api.auth import create_user
from tests.dossier.test_dossier_api import client_body, errors_of, new_code


async def new_client(dossier_api, **overrides: Any) -> dict:
    code = new_code("CT")
    response = await dossier_api.post("/clients", json=client_body(code, **overrides))
    assert response.status_code == 201, response.text
    return response.json()


async def collector_api(platform, db, client_code: str | None = None) -> httpx.AsyncClient:
    """An API client authenticated as a new collector user; `client_code`, if given, is
    assigned to that collector (the assignment API is not what these tests are about)."""
    collector_id, token = uuid4(), f"rl_test_{uuid4().hex}"
    async with db.acquire() as conn:
        await conn.execute(
            "INSERT INTO collectors (id, code, name) VALUES ($1, $2, $3)",
            collector_id, f"COL-{collector_id.hex[:8]}", "Claire Collector",
        )
        await create_user(conn, name=f"claire-{collector_id.hex[:6]}", role=Role.COLLECTOR,
                          token=token, collector_id=collector_id)
        if client_code:
            await conn.execute("UPDATE clients SET collector_id = $1 WHERE code = $2", collector_id, client_code)
    return httpx.AsyncClient(base_url=platform.running["dossier"].url, timeout=30,
                             headers={"Authorization": f"Bearer {token}"})


async def read_only_api(platform, db) -> httpx.AsyncClient:
    token = f"rl_test_{uuid4().hex}"
    async with db.acquire() as conn:
        await create_user(conn, name=f"reader-{token[-6:]}", role=Role.READ_ONLY, token=token)
    return httpx.AsyncClient(base_url=platform.running["dossier"].url, timeout=30,
                             headers={"Authorization": f"Bearer {token}"})


async def audit_of(dossier_api, code: str) -> list[dict]:
    response = await dossier_api.get(f"/clients/{code}/audit", params={"limit": 500})
    assert response.status_code == 200, response.text
    return response.json()["entries"]


async def events_of(db, client_id: str, event_type: str) -> list[dict]:
    rows = await db.fetch(
        "SELECT event FROM outbox WHERE key = $1 AND event_type = $2 ORDER BY id", client_id, event_type
    )
    return [r["event"] for r in rows]


def channel_path(code: str, contact_id: str, channel_id: str, action: str = "") -> str:
    path = f"/clients/{code}/contacts/{contact_id}/channels/{channel_id}"
    return f"{path}/{action}" if action else path


async def add_contact(dossier_api, code: str, **body: Any) -> dict:
    response = await dossier_api.post(f"/clients/{code}/contacts", json={"name": "Comptabilité", **body})
    assert response.status_code == 201, response.text
    return response.json()


# ---- creating and editing contacts (F-22) -----------------------------------------------


async def test_f22_create_a_contact_with_its_role_and_channels_shows_on_the_card_audited(dossier_api, db) -> None:
    card = await new_client(dossier_api)
    code, client_id = card["client"]["code"], card["client"]["id"]

    contact = await add_contact(
        dossier_api, code, name="Mme Durand", observation="Responsable comptabilité fournisseurs",
        channels=[{"type": "email", "value": "durand@acme.fr", "state": "validated", "is_default": True},
                  {"type": "phone", "value": "+33 4 72 00 00 00"}],
        comment="rencontrée au salon",
    )

    assert contact["name"] == "Mme Durand"
    assert contact["observation"] == "Responsable comptabilité fournisseurs"
    assert {(c["type"], c["state"], c["is_default"]) for c in contact["channels"]} == {
        ("email", "validated", True), ("phone", "pending", False)}
    card = (await dossier_api.get(f"/clients/{code}")).json()
    assert [c["id"] for c in card["contacts"]] == [contact["id"]]
    [entry] = [e for e in await audit_of(dossier_api, code) if e["entity"] == "contact"]
    assert (entry["action"], entry["entity_id"], entry["actor"], entry["comment"]) == (
        "create", contact["id"], "user:admin", "rencontrée au salon")
    [created] = await events_of(db, client_id, "contact.created")
    assert created["payload"]["contact_id"] == contact["id"]
    assert len(await events_of(db, client_id, "contact.channel_added")) == 2


async def test_f22_edit_a_contacts_name_and_observation(dossier_api, db) -> None:
    card = await new_client(dossier_api)
    code = card["client"]["code"]
    contact = await add_contact(dossier_api, code, observation="Assistante")

    response = await dossier_api.patch(
        f"/clients/{code}/contacts/{contact['id']}",
        json={"observation": "Directrice financière", "comment": "promotion"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["observation"] == "Directrice financière"
    assert response.json()["name"] == "Comptabilité"
    [entry] = [e for e in await audit_of(dossier_api, code)
               if e["entity"] == "contact" and e["action"] == "update"]
    assert entry["details"] == {"observation": {"from": "Assistante", "to": "Directrice financière"}}
    assert entry["comment"] == "promotion"
    [updated] = await events_of(db, card["client"]["id"], "contact.updated")
    assert updated["payload"]["changed"] == {"observation": "Directrice financière"}


async def test_f22_contact_errors_name_the_field(dossier_api, db) -> None:
    card = await new_client(dossier_api)
    code = card["client"]["code"]
    contact = await add_contact(dossier_api, code)

    no_name = await dossier_api.patch(f"/clients/{code}/contacts/{contact['id']}", json={"name": None})
    bad_email = await dossier_api.post(f"/clients/{code}/contacts", json={
        "name": "X", "channels": [{"type": "email", "value": "not-an-address"}]})
    pending_default = await dossier_api.post(f"/clients/{code}/contacts/{contact['id']}/channels", json={
        "type": "email", "value": "a@acme.fr", "is_default": True})
    unknown_contact = await dossier_api.patch(f"/clients/{code}/contacts/{uuid4()}", json={"name": "Y"})

    assert (no_name.status_code, errors_of(no_name)[0][0]) == (422, "name")
    assert (bad_email.status_code, errors_of(bad_email)) == (422, [("channels.0.value", "is not an email address")])
    assert (pending_default.status_code, errors_of(pending_default)[0][0]) == (422, "is_default")
    assert (unknown_contact.status_code, errors_of(unknown_contact)[0][0]) == (404, "contact_id")
    listed = (await dossier_api.get(f"/clients/{code}/contacts")).json()
    assert [c["name"] for c in listed] == ["Comptabilité"]  # nothing half-written
    assert [c["channels"] for c in listed] == [[]]


# ---- channel states (F-21, F-22) ---------------------------------------------------------


async def test_f21_f22_channel_lifecycle_validate_default_cancel_invalidate(dossier_api, db) -> None:
    card = await new_client(dossier_api)
    code, client_id = card["client"]["code"], card["client"]["id"]
    contact = await add_contact(dossier_api, code)
    added = await dossier_api.post(f"/clients/{code}/contacts/{contact['id']}/channels",
                                   json={"type": "email", "value": "compta@acme.fr"})
    assert added.status_code == 201, added.text
    channel = added.json()
    assert (channel["state"], channel["is_default"]) == ("pending", False)
    path = lambda action: channel_path(code, contact["id"], channel["id"], action)  # noqa: E731

    too_early = await dossier_api.post(path("make-default"))
    assert too_early.status_code == 409
    assert errors_of(too_early) == [("state", "only a validated channel can be the default (it is pending)")]

    validated = await dossier_api.post(path("validate"), json={"comment": "confirmé par téléphone"})
    assert (validated.status_code, validated.json()["state"]) == (200, "validated")
    default = await dossier_api.post(path("make-default"))
    assert (default.json()["state"], default.json()["is_default"]) == ("validated", True)
    cancelled = await dossier_api.post(path("cancel-validation"))
    assert (cancelled.json()["state"], cancelled.json()["is_default"]) == ("pending", False)
    await dossier_api.post(path("validate"))
    await dossier_api.post(path("make-default"))
    invalidated = await dossier_api.post(path("invalidate"), json={"comment": "NPAI"})
    assert (invalidated.json()["state"], invalidated.json()["is_default"]) == ("invalid", False)
    again = await dossier_api.post(path("invalidate"))
    assert (again.status_code, errors_of(again)) == (409, [("state", "the channel is already invalid")])

    trail = [(e["action"], e["details"]["from"], e["details"]["to"], e["comment"])
             for e in reversed(await audit_of(dossier_api, code)) if e["entity"] == "contact_channel"
             and e["action"] != "create"]
    assert trail == [
        ("validate", "pending", "validated", "confirmé par téléphone"),
        ("make-default", "validated", "validated+default", None),
        ("cancel-validation", "validated+default", "pending", None),
        ("validate", "pending", "validated", None),
        ("make-default", "validated", "validated+default", None),
        ("invalidate", "validated+default", "invalid", "NPAI"),
    ]
    changes = [e["payload"]["action"] for e in await events_of(db, client_id, "contact.channel_changed")]
    assert changes == ["validate", "make-default", "cancel-validation", "validate", "make-default", "invalidate"]


async def test_f21_making_a_channel_default_moves_the_flag_from_the_previous_default(dossier_api, db) -> None:
    card = await new_client(dossier_api, contacts=[
        {"name": "Comptabilité", "channels": [
            {"type": "email", "value": "compta@acme.fr", "state": "validated", "is_default": True},
            {"type": "phone", "value": "04 72 00 00 00", "state": "validated", "is_default": True}]},
        {"name": "Direction", "channels": [
            {"type": "email", "value": "dg@acme.fr", "state": "validated"}]},
    ])
    code = card["client"]["code"]
    direction = next(c for c in card["contacts"] if c["name"] == "Direction")
    dg_email = direction["channels"][0]

    response = await dossier_api.post(channel_path(code, direction["id"], dg_email["id"], "make-default"))

    assert response.status_code == 200, response.text
    contacts = (await dossier_api.get(f"/clients/{code}/contacts")).json()
    defaults = {(c["type"], c["value"]) for contact in contacts for c in contact["channels"] if c["is_default"]}
    # Exactly one default per type: the email moved, the phone kept its default.
    assert defaults == {("email", "dg@acme.fr"), ("phone", "04 72 00 00 00")}
    moved = [e for e in await audit_of(dossier_api, code) if e["action"] == "default-moved"]
    assert [m["details"]["new_default"] for m in moved] == [dg_email["id"]]


async def test_f21_concurrent_make_default_leaves_exactly_one_default(dossier_api, db) -> None:
    channels = [{"type": "email", "value": f"c{i}@acme.fr", "state": "validated"} for i in range(6)]
    card = await new_client(dossier_api, contacts=[{"name": "Comptabilité", "channels": channels}])
    code = card["client"]["code"]
    [contact] = card["contacts"]

    responses = await asyncio.gather(*(
        dossier_api.post(channel_path(code, contact["id"], ch["id"], "make-default"))
        for ch in contact["channels"]
    ))

    assert [r.status_code for r in responses] == [200] * 6
    listed = (await dossier_api.get(f"/clients/{code}/contacts")).json()
    assert sum(c["is_default"] for c in listed[0]["channels"]) == 1


async def test_f21_adding_a_validated_default_channel_takes_the_default_over(dossier_api) -> None:
    card = await new_client(dossier_api, contacts=[{"name": "Comptabilité", "channels": [
        {"type": "postal", "value": "1 rue A, Lyon", "state": "validated", "is_default": True}]}])
    code = card["client"]["code"]
    [contact] = card["contacts"]

    response = await dossier_api.post(f"/clients/{code}/contacts/{contact['id']}/channels", json={
        "type": "postal", "value": "2 rue B, Lyon", "state": "validated", "is_default": True})

    assert response.status_code == 201, response.text
    [listed] = (await dossier_api.get(f"/clients/{code}/contacts")).json()
    assert {(c["value"], c["is_default"]) for c in listed["channels"]} == {
        ("1 rue A, Lyon", False), ("2 rue B, Lyon", True)}


async def test_f21_editing_a_channel_value_makes_it_pending_again(dossier_api) -> None:
    card = await new_client(dossier_api, contacts=[{"name": "Comptabilité", "channels": [
        {"type": "email", "value": "old@acme.fr", "state": "validated", "is_default": True}]}])
    code = card["client"]["code"]
    [contact] = card["contacts"]
    [channel] = contact["channels"]

    same = await dossier_api.patch(channel_path(code, contact["id"], channel["id"]), json={"value": "old@acme.fr"})
    changed = await dossier_api.patch(channel_path(code, contact["id"], channel["id"]), json={"value": "new@acme.fr"})
    bad = await dossier_api.patch(channel_path(code, contact["id"], channel["id"]), json={"value": "nope"})

    assert (same.json()["state"], same.json()["is_default"]) == ("validated", True)
    assert (changed.json()["value"], changed.json()["state"], changed.json()["is_default"]) == (
        "new@acme.fr", "pending", False)
    assert (bad.status_code, errors_of(bad)) == (422, [("value", "is not an email address")])
    # A state changes only through validate / invalidate / cancel-validation / make-default.
    sneaky = await dossier_api.patch(channel_path(code, contact["id"], channel["id"]),
                                     json={"value": "new@acme.fr", "state": "validated"})
    assert (sneaky.status_code, errors_of(sneaky)[0][0]) == (422, "state")


async def test_f21_invalid_channels_are_hidden_unless_asked(dossier_api) -> None:
    card = await new_client(dossier_api, contacts=[{"name": "Comptabilité", "channels": [
        {"type": "email", "value": "ok@acme.fr", "state": "validated"},
        {"type": "email", "value": "gone@acme.fr", "state": "validated"}]}])
    code = card["client"]["code"]
    [contact] = card["contacts"]
    gone = next(c for c in contact["channels"] if c["value"] == "gone@acme.fr")
    await dossier_api.post(channel_path(code, contact["id"], gone["id"], "invalidate"))

    hidden = (await dossier_api.get(f"/clients/{code}/contacts")).json()
    shown = (await dossier_api.get(f"/clients/{code}/contacts", params={"include_invalid": "true"})).json()
    on_card = (await dossier_api.get(f"/clients/{code}")).json()["contacts"]

    assert [c["value"] for c in hidden[0]["channels"]] == ["ok@acme.fr"]
    assert [c["value"] for c in on_card[0]["channels"]] == ["ok@acme.fr"]
    assert {(c["value"], c["state"]) for c in shown[0]["channels"]} == {
        ("ok@acme.fr", "validated"), ("gone@acme.fr", "invalid")}


async def test_f21_a_channel_of_another_client_is_not_found(dossier_api) -> None:
    first = await new_client(dossier_api, contacts=[{"name": "A", "channels": [
        {"type": "email", "value": "a@acme.fr"}]}])
    second = await new_client(dossier_api)
    [contact] = first["contacts"]

    response = await dossier_api.post(channel_path(
        second["client"]["code"], contact["id"], contact["channels"][0]["id"], "validate"))

    assert (response.status_code, errors_of(response)[0][0]) == (404, "contact_id")
    listed = (await dossier_api.get(f"/clients/{first['client']['code']}/contacts")).json()
    assert listed[0]["channels"][0]["state"] == "pending"


# ---- roles (F-4, F-33) -------------------------------------------------------------------


async def test_f22_a_collector_manages_contacts_of_their_clients_only(dossier_api, platform, db) -> None:
    mine = await new_client(dossier_api)
    other = await new_client(dossier_api)
    async with await collector_api(platform, db, mine["client"]["code"]) as collector:
        created = await collector.post(f"/clients/{mine['client']['code']}/contacts", json={"name": "Achats"})
        hidden = await collector.get(f"/clients/{other['client']['code']}/contacts")
        refused = await collector.post(f"/clients/{other['client']['code']}/contacts", json={"name": "Achats"})

    assert created.status_code == 201, created.text
    assert hidden.status_code == 404 and refused.status_code == 404
    assert (await dossier_api.get(f"/clients/{other['client']['code']}/contacts")).json() == []
    [entry] = [e for e in await audit_of(dossier_api, mine["client"]["code"]) if e["entity"] == "contact"]
    assert entry["actor"].startswith("user:claire-")


async def test_f22_a_read_only_user_reads_contacts_but_cannot_change_them(dossier_api, platform, db) -> None:
    card = await new_client(dossier_api, contacts=[{"name": "Comptabilité"}])
    code = card["client"]["code"]
    async with await read_only_api(platform, db) as reader:
        listed = await reader.get(f"/clients/{code}/contacts")
        refused = await reader.post(f"/clients/{code}/contacts", json={"name": "Achats"})

    assert [c["name"] for c in listed.json()] == ["Comptabilité"]
    assert refused.status_code == 403
    assert [c["name"] for c in (await dossier_api.get(f"/clients/{code}/contacts")).json()] == ["Comptabilité"]
