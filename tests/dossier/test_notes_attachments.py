"""The client's note pad (F-25) and files attached to it (F-26) through the dossier API
on the real stack, with their audit entries (F-33) and the roles rules."""

import hashlib
from uuid import UUID

from tests.dossier.test_contacts import audit_of, collector_api, events_of, new_client, read_only_api
from tests.dossier.test_dossier_api import errors_of

PDF = b"%PDF-1.4\n% a small letter\n" + b"x" * 2048


async def upload(api, code: str, content: bytes = PDF, *, filename: str = "relance.pdf",
                 content_type: str = "application/pdf", description: str | None = None):
    data = {"description": description} if description is not None else {}
    return await api.post(f"/clients/{code}/attachments",
                          files={"file": (filename, content, content_type)}, data=data)


# ---- notes (F-25) ------------------------------------------------------------------------


async def test_f25_notes_are_listed_newest_first_with_author_and_time_and_on_the_card(dossier_api, db) -> None:
    card = await new_client(dossier_api)
    code = card["client"]["code"]

    first = await dossier_api.post(f"/clients/{code}/notes", json={"text": "Client injoignable le matin."})
    second = await dossier_api.post(f"/clients/{code}/notes", json={"text": "Paiement annoncé fin de mois."})

    assert first.status_code == 201, first.text
    assert second.json()["author"] == "user:admin" and second.json()["created_at"]
    notes = (await dossier_api.get(f"/clients/{code}/notes")).json()
    assert [n["text"] for n in notes] == ["Paiement annoncé fin de mois.", "Client injoignable le matin."]
    on_card = (await dossier_api.get(f"/clients/{code}")).json()["notes"]
    assert [n["id"] for n in on_card] == [second.json()["id"], first.json()["id"]]
    audited = [e["entity_id"] for e in await audit_of(dossier_api, code) if e["entity"] == "note"]
    assert audited == [second.json()["id"], first.json()["id"]]
    assert len(await events_of(db, card["client"]["id"], "client.note_added")) == 2


async def test_f25_every_collector_who_sees_the_client_reads_the_note_pad(dossier_api, platform, db) -> None:
    card = await new_client(dossier_api)
    code = card["client"]["code"]
    await dossier_api.post(f"/clients/{code}/notes", json={"text": "Note du manager."})

    async with await collector_api(platform, db, code) as collector:
        added = await collector.post(f"/clients/{code}/notes", json={"text": "Note du chargé."})
        read = await collector.get(f"/clients/{code}/notes")
    async with await collector_api(platform, db) as stranger:
        hidden = await stranger.get(f"/clients/{code}/notes")
    async with await read_only_api(platform, db) as reader:
        read_only = await reader.get(f"/clients/{code}/notes")
        refused = await reader.post(f"/clients/{code}/notes", json={"text": "x"})

    assert added.status_code == 201
    assert [n["text"] for n in read.json()] == ["Note du chargé.", "Note du manager."]
    assert hidden.status_code == 404
    assert len(read_only.json()) == 2 and refused.status_code == 403


async def test_f25_blank_or_missing_note_is_rejected_naming_the_field(dossier_api) -> None:
    code = (await new_client(dossier_api))["client"]["code"]

    blank = await dossier_api.post(f"/clients/{code}/notes", json={"text": "   "})
    missing = await dossier_api.post(f"/clients/{code}/notes", json={})

    assert (blank.status_code, errors_of(blank)) == (422, [("text", "must not be blank")])
    assert (missing.status_code, errors_of(missing)[0][0]) == (422, "text")
    assert (await dossier_api.get(f"/clients/{code}/notes")).json() == []


# ---- attachments (F-26) ------------------------------------------------------------------


async def test_f26_upload_list_download_a_file_with_its_description(dossier_api, db, stack) -> None:
    card = await new_client(dossier_api)
    code, client_id = card["client"]["code"], card["client"]["id"]

    response = await upload(dossier_api, code, filename="Relance n°1.pdf", description="Lettre de relance")

    assert response.status_code == 201, response.text
    attachment = response.json()
    assert (attachment["filename"], attachment["content_type"], attachment["size_bytes"]) == (
        "Relance n°1.pdf", "application/pdf", len(PDF))
    assert attachment["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert (attachment["description"], attachment["source"], attachment["created_by"]) == (
        "Lettre de relance", "upload", "user:admin")
    stored = await db.fetchval("SELECT storage_path FROM attachments WHERE id = $1", UUID(attachment["id"]))
    assert stored == f"attachments/{client_id}/{attachment['id']}"
    assert (stack.data_dir / stored).read_bytes() == PDF

    listed = (await dossier_api.get(f"/clients/{code}/attachments")).json()
    assert [a["id"] for a in listed] == [attachment["id"]]
    assert [a["id"] for a in (await dossier_api.get(f"/clients/{code}")).json()["attachments"]] == [attachment["id"]]
    download = await dossier_api.get(f"/clients/{code}/attachments/{attachment['id']}/content")
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "Relance%20n%C2%B01.pdf" in disposition
    [entry] = [e for e in await audit_of(dossier_api, code) if e["entity"] == "attachment"]
    assert (entry["action"], entry["comment"], entry["details"]["filename"]) == (
        "create", "Lettre de relance", "Relance n°1.pdf")
    assert len(await events_of(db, client_id, "client.attachment_added")) == 1


async def test_f26_delete_hides_the_file_keeps_it_for_the_audit_and_is_audited(dossier_api, db, stack) -> None:
    code = (await new_client(dossier_api))["client"]["code"]
    attachment = (await upload(dossier_api, code, b"hello", filename="note.txt", content_type="text/plain")).json()

    deleted = await dossier_api.delete(f"/clients/{code}/attachments/{attachment['id']}",
                                       params={"comment": "envoyé par erreur"})
    again = await dossier_api.delete(f"/clients/{code}/attachments/{attachment['id']}")
    download = await dossier_api.get(f"/clients/{code}/attachments/{attachment['id']}/content")

    assert deleted.status_code == 204
    assert (again.status_code, errors_of(again)[0][0]) == (404, "attachment_id")
    assert download.status_code == 404
    assert (await dossier_api.get(f"/clients/{code}/attachments")).json() == []
    row = await db.fetchrow("SELECT deleted_by, deleted_at, storage_path FROM attachments WHERE id = $1",
                            UUID(attachment["id"]))
    assert row["deleted_by"] == "user:admin" and row["deleted_at"] is not None
    assert (stack.data_dir / row["storage_path"]).read_bytes() == b"hello"
    [entry] = [e for e in await audit_of(dossier_api, code)
               if e["entity"] == "attachment" and e["action"] == "delete"]
    assert (entry["actor"], entry["comment"]) == ("user:admin", "envoyé par erreur")


async def test_f26_a_file_over_the_size_limit_is_refused_with_413_and_nothing_is_kept(dossier_api, db, stack) -> None:
    card = await new_client(dossier_api)
    code, client_id = card["client"]["code"], card["client"]["id"]
    too_big = b"0" * (10 * 1024 * 1024 + 1)  # one byte over the default 10 MiB

    response = await upload(dossier_api, code, too_big, filename="scan.pdf")

    assert response.status_code == 413
    assert errors_of(response) == [("file", "the file is larger than the limit of 10485760 bytes")]
    assert await db.fetchval("SELECT count(*) FROM attachments WHERE client_id = $1::text::uuid", client_id) == 0
    folder = stack.data_dir / "attachments" / client_id
    assert not folder.exists() or list(folder.iterdir()) == []


async def test_f26_a_content_type_not_allowed_is_refused_with_415(dossier_api, db) -> None:
    card = await new_client(dossier_api)
    code = card["client"]["code"]

    response = await upload(dossier_api, code, b"MZ\x90\x00", filename="setup.exe",
                            content_type="application/x-msdownload")
    empty = await upload(dossier_api, code, b"", filename="empty.txt", content_type="text/plain")

    assert response.status_code == 415
    [(field, reason)] = errors_of(response)
    assert field == "file" and "'application/x-msdownload' is not allowed" in reason
    assert (empty.status_code, errors_of(empty)) == (422, [("file", "the file is empty")])
    assert (await dossier_api.get(f"/clients/{code}/attachments")).json() == []


async def test_f26_a_collector_only_sees_files_of_their_clients(dossier_api, platform, db) -> None:
    code = (await new_client(dossier_api))["client"]["code"]
    attachment = (await upload(dossier_api, code)).json()

    async with await collector_api(platform, db) as stranger:
        listed = await stranger.get(f"/clients/{code}/attachments")
        download = await stranger.get(f"/clients/{code}/attachments/{attachment['id']}/content")
        delete = await stranger.delete(f"/clients/{code}/attachments/{attachment['id']}")
        probe = await upload(stranger, code, b"MZ", filename="a.exe", content_type="application/x-msdownload")
    async with await collector_api(platform, db, code) as owner:
        own = await owner.get(f"/clients/{code}/attachments/{attachment['id']}/content")
    async with await read_only_api(platform, db) as reader:
        refused = await upload(reader, code)

    assert (listed.status_code, download.status_code, delete.status_code, probe.status_code) == (404,) * 4
    assert own.content == PDF
    assert refused.status_code == 403
    assert [a["id"] for a in (await dossier_api.get(f"/clients/{code}/attachments")).json()] == [attachment["id"]]
