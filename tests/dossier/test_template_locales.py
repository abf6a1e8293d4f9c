"""Templates per locale and contacts' languages through the dossier API (F-39): one
version of a template code per locale, edited one locale at a time; the command the
dossier writes carries every version, the client's chosen one and the contacts'
languages; bad input is refused naming the field."""

from uuid import UUID, uuid4

from relance_dossier.persistence.communications import communication_command
from tests.dossier.test_users_roles import error_fields, new_code


async def test_f39_a_template_has_one_version_per_locale(dossier_api):
    code = f"loc-{uuid4().hex[:8]}"
    fr = {"code": code, "channel": "email", "locale": "fr", "subject": "Relance", "body": "Bonjour"}
    assert (await dossier_api.post("/templates", json=fr)).status_code == 201
    en = await dossier_api.post("/templates", json={**fr, "locale": "en", "subject": "Reminder",
                                                     "body": "Hello"})
    assert en.status_code == 201, en.text
    assert (await dossier_api.post("/templates", json=fr)).status_code == 409
    other_channel = await dossier_api.post("/templates", json={**fr, "locale": "de", "channel": "sms"})
    assert other_channel.status_code == 422 and error_fields(other_channel) == ["channel"]

    listed = [t for t in (await dossier_api.get("/templates")).json() if t["code"] == code]
    assert [(t["locale"], t["body"]) for t in listed] == [("en", "Hello"), ("fr", "Bonjour")]
    assert (await dossier_api.get(f"/templates/{code}", params={"locale": "en"})).json()["body"] == "Hello"
    # Without a locale: the fallback locale's version (French).
    assert (await dossier_api.get(f"/templates/{code}")).json()["locale"] == "fr"
    missing = await dossier_api.get(f"/templates/{code}", params={"locale": "it"})
    assert missing.status_code == 404 and error_fields(missing) == ["locale"]

    # PUT writes one locale's version: an edit, or a new translation.
    edited = await dossier_api.put(f"/templates/{code}", json={**fr, "locale": "en", "body": "Hi"})
    assert edited.status_code == 200 and edited.json()["body"] == "Hi"
    added = await dossier_api.put(f"/templates/{code}", json={**fr, "locale": "it", "body": "Ciao"})
    assert added.status_code == 200 and added.json()["locale"] == "it"
    assert (await dossier_api.get(f"/templates/{code}", params={"locale": "fr"})).json()["body"] == "Bonjour"
    unknown = await dossier_api.put(f"/templates/{code}-x", json=fr)
    assert unknown.status_code == 404 and error_fields(unknown) == ["code"]
    bad_locale = await dossier_api.put(f"/templates/{code}", json={**fr, "locale": "english"})
    assert bad_locale.status_code == 422 and error_fields(bad_locale) == ["locale"]

    assert (await dossier_api.delete(f"/templates/{code}", params={"locale": "it"})).status_code == 204
    assert (await dossier_api.get(f"/templates/{code}", params={"locale": "it"})).status_code == 404
    assert (await dossier_api.get(f"/templates/{code}", params={"locale": "en"})).status_code == 200
    assert (await dossier_api.delete(f"/templates/{code}")).status_code == 204
    assert (await dossier_api.get(f"/templates/{code}")).status_code == 404


async def test_f39_the_reference_templates_are_seeded_in_english(dossier_api):
    for code in ("relance-email-1", "relance-courrier-2"):
        english = await dossier_api.get(f"/templates/{code}", params={"locale": "en"})
        assert english.status_code == 200, english.text
        assert "#late_interest" in english.json()["body"]
        assert (await dossier_api.get(f"/templates/{code}")).json()["locale"] == "fr"


async def test_f39_a_contacts_language_is_kept_and_carried_in_the_command(dossier_api, db):
    code = new_code("LANG")
    created = await dossier_api.post("/clients", json={
        "code": code, "name": f"Client {code}", "locale": "de",
        "contacts": [{"name": "Buchhaltung", "language": "en-GB", "channels": [
            {"type": "email", "value": f"{code.lower()}@client.example", "state": "validated",
             "is_default": True}]}],
    })
    assert created.status_code == 201, created.text
    [contact] = created.json()["contacts"]
    assert contact["language"] == "en-GB"
    bad = await dossier_api.patch(f"/clients/{code}/contacts/{contact['id']}", json={"language": "xx_x"})
    assert bad.status_code == 422 and error_fields(bad) == ["language"]
    changed = await dossier_api.patch(f"/clients/{code}/contacts/{contact['id']}", json={"language": "en"})
    assert changed.status_code == 200 and changed.json()["language"] == "en"

    async with db.acquire() as conn:
        command = await communication_command(
            conn, communication_id=uuid4(), client_id=UUID(created.json()["client"]["id"]),
            channel="email", template_code="relance-email-1", item_ids=[], automatic=True,
        )
    assert [c.language for c in command.contact_channels] == ["en"]
    assert sorted(t.locale for t in command.templates) == ["en", "fr"]
    # No German version: the client gets the fallback locale's (the notifier then prefers
    # the contact's language).
    assert command.template is not None and command.template.locale == "fr"
    assert command.late_fees == []
