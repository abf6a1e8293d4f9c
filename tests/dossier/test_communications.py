"""Contacting the client from a contact or from "communication actions" (F-23, F-21):
email, SMS or letter through the notifier, or a call logged by the collector; every
communication is kept in the client's trace, which the dossier owns: calls are written at
once, what the notifier sends comes back as events (so the tests wait for it)."""

from datetime import date, timedelta
from uuid import uuid4

from relance.events import (
    CommunicationDeliveryUpdated,
    CommunicationDocument,
    CommunicationFailed,
    CommunicationSent,
)
from relance_dossier.messaging.communication_events import handle_communication_event
from tests.conftest import eventually


async def _client(dossier_api) -> tuple[str, dict[str, str]]:
    code = f"COM-{uuid4().hex[:8]}"
    response = await dossier_api.post("/clients", json={
        "code": code, "name": "Contacts SA",
        "contacts": [{"name": "DAF", "observation": "Directeur financier", "channels": [
            {"type": "email", "value": f"daf-{code.lower()}@client.example", "state": "validated", "is_default": True},
            {"type": "email", "value": f"compta-{code.lower()}@client.example", "state": "pending"},
            {"type": "email", "value": f"old-{code.lower()}@client.example", "state": "invalid"},
            {"type": "phone", "value": "+33 1 23 45 67 89", "state": "validated", "is_default": True},
        ]}],
        "items": [{"number": "F-1", "due_date": str(date.today() + timedelta(days=20)), "amount": "250.00"}],
    })
    assert response.status_code == 201, response.text
    contacts = (await dossier_api.get(f"/clients/{code}/contacts", params={"include_invalid": "true"})).json()
    channels = {ch["value"].split("-")[0] if "@" in ch["value"] else "phone": ch["id"]
                for contact in contacts for ch in contact["channels"]}
    return code, channels


async def test_f23_an_email_to_a_chosen_channel_is_sent_and_kept_in_the_trace(dossier_api, smtp_inbox):
    code, channels = await _client(dossier_api)
    response = await dossier_api.post(f"/clients/{code}/communications", json={
        "channel": "email", "channel_id": channels["compta"],
        "subject": "Votre relevé", "body": "Voici votre relevé : #items_list_selected",
    })
    assert response.status_code == 202, response.text
    sent = response.json()
    assert sent["status"] == "requested" and sent["recipient"].startswith("compta-")

    mail = await smtp_inbox.wait_for(sent["recipient"], timeout=60)
    assert "F-1" in mail.get_payload(decode=True).decode("utf-8")

    async def traced():
        trace = (await dossier_api.get(f"/clients/{code}/communications")).json()
        return [t for t in trace if t["id"] == sent["communication_id"] and t["status"] == "sent"]

    [entry] = await eventually(traced, timeout=60)
    assert entry["recipient"] == sent["recipient"] and "Voici votre relevé" in entry["body"]


async def test_f23_a_call_is_logged_in_the_trace_and_audited(dossier_api, db):
    code, channels = await _client(dossier_api)
    response = await dossier_api.post(f"/clients/{code}/communications", json={
        "channel": "call", "channel_id": channels["phone"], "note": "Promet un virement vendredi",
    })
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "logged"
    trace = (await dossier_api.get(f"/clients/{code}/communications")).json()
    assert [(t["channel"], t["status"], t["recipient"], t["body"]) for t in trace] == [
        ("call", "logged", "+33 1 23 45 67 89", "Promet un virement vendredi")]
    audit = (await dossier_api.get(f"/clients/{code}/audit")).json()
    entries = audit["entries"] if isinstance(audit, dict) else audit
    assert any(e["action"] == "contact_by_call" and e["comment"] == "Promet un virement vendredi"
               for e in entries)


async def test_f21_f23_never_through_an_invalid_channel_a_wrong_type_or_another_clients_channel(dossier_api, db):
    code, channels = await _client(dossier_api)
    other_code, other_channels = await _client(dossier_api)
    cases = [
        ({"channel": "email", "channel_id": channels["old"], "template_code": "relance-email-1"}, "invalid"),
        ({"channel": "sms", "channel_id": channels["daf"], "body": "Bonjour"}, "phone"),
        ({"channel": "email", "channel_id": other_channels["daf"], "body": "Bonjour"}, "not a contact channel"),
        ({"channel": "email"}, "template or its own body"),
        ({"channel": "email", "template_code": "no-such-template"}, "no template"),
    ]
    for body, reason in cases:
        response = await dossier_api.post(f"/clients/{code}/communications", json=body)
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert reason in error["reason"], (body, error)
    assert (await dossier_api.get(f"/clients/{code}/communications")).json() == []
    assert await db.fetchval(
        "SELECT count(*) FROM outbox WHERE event_type = 'communication.requested'"
        " AND event->'payload'->>'client_code' = $1", code) == 0


async def test_f23_f26_a_letter_s_pdf_shows_as_the_client_s_attachment(dossier_api):
    code = f"LET-{uuid4().hex[:8]}"
    response = await dossier_api.post("/clients", json={
        "code": code, "name": "Courrier SARL",
        "contacts": [{"name": "Comptabilité", "channels": [
            {"type": "postal", "value": "Courrier SARL\n3 quai des Lettres\n69002 Lyon",
             "state": "validated", "is_default": True}]}],
        "items": [{"number": "L-1", "due_date": str(date.today() + timedelta(days=20)),
                   "amount": "480.00"}],
    })
    assert response.status_code == 201, response.text
    sent = await dossier_api.post(f"/clients/{code}/communications", json={
        "channel": "letter", "template_code": "relance-courrier-2"})
    assert sent.status_code == 202, sent.text
    communication_id = sent.json()["communication_id"]

    async def letter_listed():
        documents = (await dossier_api.get(f"/clients/{code}/attachments")).json()
        return [d for d in documents if d["id"] == communication_id]

    [letter] = await eventually(letter_listed, timeout=90)
    assert (letter["source"], letter["created_by"]) == ("letter", "notifier")
    assert letter["content_type"] == "application/pdf" and letter["filename"].endswith(".pdf")
    download = await dossier_api.get(f"/clients/{code}/attachments/{communication_id}/content")
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")
    assert len(download.content) == letter["size_bytes"]

    async def traced():
        trace = (await dossier_api.get(f"/clients/{code}/communications")).json()
        return [t for t in trace if t["id"] == communication_id and t["status"] == "sent"]

    [entry] = await eventually(traced, timeout=60)
    assert entry["channel"] == "letter" and entry["attachment_id"] == communication_id
    assert "3 quai des Lettres" in entry["recipient"] and "L-1" in entry["body"]


async def test_f23_f32_the_trace_consumer_applies_each_event_once(db):
    """The dossier's consumer of communication.events, called as its subscriber does: a
    redelivered event changes nothing, a sent communication is never changed by a later
    failure, the delivery report lands on the sent entry, an unknown client is skipped."""
    client_id, communication_id = uuid4(), uuid4()
    await db.execute("INSERT INTO dossier.clients (id, code, name) VALUES ($1, $2, 'Trace SA')",
                     client_id, f"TRC-{client_id.hex[:8]}")
    sent = CommunicationSent(
        communication_id=communication_id, client_id=client_id, channel="letter",
        recipient="1 rue A", attachment_id=communication_id, template_code="relance-courrier-2",
        subject="Relance", body="Madame, Monsieur", attempts=2, provider_ref=None,
        document=CommunicationDocument(
            filename="courrier.pdf", content_type="application/pdf", size_bytes=10,
            sha256="cd" * 32, storage_path=f"attachments/{client_id}/{communication_id}.pdf"),
    ).envelope(aggregate_id=communication_id, client_id=client_id)
    late_failure = CommunicationFailed(
        communication_id=communication_id, client_id=client_id, channel="letter",
        reason="boom", status="failed",
    ).envelope(aggregate_id=communication_id, client_id=client_id)
    delivered = CommunicationDeliveryUpdated(
        communication_id=communication_id, client_id=client_id, channel="letter",
        delivery_status="delivered",
    ).envelope(aggregate_id=communication_id, client_id=client_id)
    stranger = uuid4()
    orphan = CommunicationFailed(
        communication_id=uuid4(), client_id=stranger, channel="email", reason="x",
    ).envelope(aggregate_id=stranger, client_id=stranger)

    outcomes = [await handle_communication_event(db, e)
                for e in (sent, sent, late_failure, delivered, orphan)]
    assert outcomes == ["recorded", "duplicate", "unchanged", "recorded", "unknown_client"]
    row = await db.fetchrow("SELECT * FROM dossier.communications WHERE id = $1", communication_id)
    assert (row["status"], row["attempts"], row["error"], row["delivery_status"]) == (
        "sent", 2, None, "delivered")
    assert row["body"] == "Madame, Monsieur" and row["attachment_id"] == communication_id
    attachment = await db.fetchrow("SELECT * FROM dossier.attachments WHERE id = $1",
                                   communication_id)
    assert (attachment["source"], attachment["created_by"], attachment["sha256"]) == (
        "letter", "notifier", "cd" * 32)
    assert await db.fetchval("SELECT count(*) FROM dossier.communications WHERE client_id = $1",
                             stranger) == 0

