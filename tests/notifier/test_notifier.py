"""The notifier on the real stack (F-16, F-18, F-21, F-23, F-32): CommunicationRequested
commands go through the outbox, the relay and Kafka to the real notifier process, which
sends email over SMTP (a local aiosmtpd relay), SMS through an HTTP provider (a local fake
provider server), letters as PDF documents of the client, and internal emails to a
colleague; every outcome is published as an event, which the dossier keeps in the
client's trace (eventually: tests poll the dossier API). Commands are built by the
dossier's one builder, which resolves the template and the contact channels: the
notifier reads no dossier table."""

import io
import json
from datetime import date
from decimal import Decimal
from email.header import decode_header, make_header
from uuid import UUID, uuid4

import httpx
from pypdf import PdfReader

from relance.events import CommunicationItem, CommunicationRequested, EventEnvelope
from relance.kafka import new_producer
from relance.outbox import write_events
from relance.topics import COMMUNICATION_COMMANDS
from relance.validation import is_phone_number
from relance_dossier.persistence.communications import communication_command
from tests.conftest import SMS_CALLBACK_TOKEN, SMS_PROVIDER_TOKEN, eventually

NBSP = "\u00a0"
SMS_TEMPLATE = "test-notifier-sms"
ITEMS = [
    CommunicationItem(number="FA-9001", kind="invoice", issue_date=date(2026, 1, 5),
                      due_date=date(2026, 2, 4), amount=Decimal("1200.00"),
                      open_amount=Decimal("1200.00"), currency="EUR", status="dispute",
                      status_comment="Livraison incomplète"),
    CommunicationItem(number="FA-9002", kind="invoice", issue_date=date(2026, 2, 1),
                      due_date=date(2026, 3, 3), amount=Decimal("845.50"),
                      open_amount=Decimal("845.50"), currency="EUR"),
]
TOTAL_FR = f"2{NBSP}045,50{NBSP}€"


async def new_client(dossier_api: httpx.AsyncClient, channels: list[dict]) -> dict:
    """A client with one contact holding `channels` and no items (so no scenario runs)."""
    code = f"NOTIF-{uuid4().hex[:8]}"
    response = await dossier_api.post("/clients", json={
        "code": code, "name": f"Société Générale d'Équipement {code}",
        "contacts": [{"name": "Comptabilité", "channels": channels}],
    })
    assert response.status_code == 201, response.text
    return response.json()["client"]


async def command_for(db, client: dict, channel: str, template_code: str,
                      **fields) -> CommunicationRequested:
    """The command as the dossier builds it, about the test's ITEMS."""
    async with db.acquire() as conn:
        command = await communication_command(
            conn, communication_id=uuid4(), client_id=UUID(client["id"]), channel=channel,
            template_code=template_code, item_ids=[], automatic=fields.pop("automatic", True),
            **fields,
        )
    return command.model_copy(update={"items": ITEMS})


async def request(db, client: dict, channel: str, template_code: str, **fields) -> EventEnvelope:
    """Write the command to the dossier's outbox, as the workflow or the dossier API does."""
    command = await command_for(db, client, channel, template_code, **fields)
    envelope = command.envelope(aggregate_id=client["id"], client_id=client["id"])
    async with db.acquire() as conn, conn.transaction():
        await write_events(conn, [envelope])
    return envelope


async def published_outcome(db, communication_id: UUID) -> tuple[str, dict]:
    """The communication.sent / communication.failed event, once the relay published it
    from the notifier's outbox."""

    async def check():
        return await db.fetchrow(
            "SELECT event_type, event FROM notifier.outbox WHERE event_type IN"
            " ('communication.sent', 'communication.failed')"
            " AND event->'payload'->>'communication_id' = $1 AND published_at IS NOT NULL",
            str(communication_id),
        )

    row = await eventually(check, timeout=90)
    event = row["event"]
    return row["event_type"], (json.loads(event) if isinstance(event, str) else event)["payload"]


async def trace_of(dossier_api: httpx.AsyncClient, code: str, communication_id: UUID,
                   status: str | None = None) -> dict:
    """The dossier's trace entry, once its consumer applied the outcome (F-23)."""

    async def check():
        trace = (await dossier_api.get(f"/clients/{code}/communications")).json()
        return next((c for c in trace if c["id"] == str(communication_id)
                     and c["status"] == (status or c["status"])), None)

    return await eventually(check, timeout=60)


async def ensure_sms_template(db) -> None:
    await db.execute(
        "INSERT INTO templates (code, channel, subject, body) VALUES ($1, 'sms', '', $2)"
        " ON CONFLICT (code, locale) DO NOTHING",
        SMS_TEMPLATE,
        "{{ client.code }} : #items_amount_selected restent dus. Merci de regler rapidement.",
    )


def phone_number() -> tuple[str, str]:
    """A unique French mobile number, as typed and as sent: one of the numbering plan's
    (the SMS channel sends only valid E.164 numbers, and some 06 ranges are unassigned)."""
    while True:
        digits = f"{uuid4().int % 10**8:08d}"
        if is_phone_number("+336" + digits):
            typed = "+33 6 " + " ".join(digits[i:i + 2] for i in range(0, 8, 2))
            return typed, "+336" + digits


def subject_of(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def mail_text(message) -> str:
    return message.get_payload(decode=True).decode(message.get_content_charset() or "utf-8")


async def test_f32_f23_email_goes_to_the_default_validated_address_and_is_traced(
    dossier_api, db, smtp_inbox
):
    address = f"compta-{uuid4().hex[:8]}@client.example"
    client = await new_client(dossier_api, [
        {"type": "email", "value": f"old-{address}", "state": "invalid"},
        {"type": "email", "value": address, "state": "validated", "is_default": True},
    ])
    command = await request(db, client, "email", "relance-email-1")
    communication_id = command.payload["communication_id"]

    mail = await smtp_inbox.wait_for(address, timeout=90)
    assert client["name"] in subject_of(mail)
    body = mail_text(mail)
    assert f"Montant total dû : {TOTAL_FR}" in body  # F-18 #items_amount_selected
    assert "FA-9001" in body and "04/02/2026" in body  # F-18 #items_list_selected
    assert not smtp_inbox.to(f"old-{address}")  # never an invalid channel (F-21)

    event_type, payload = await published_outcome(db, communication_id)
    assert event_type == "communication.sent" and payload["recipient"] == address
    trace = await trace_of(dossier_api, client["code"], communication_id)
    assert trace["status"] == "sent" and trace["channel"] == "email"
    assert trace["recipient"] == address and TOTAL_FR in trace["body"]  # F-23


async def test_f32_sms_goes_through_the_http_provider_and_is_traced(
    dossier_api, db, sms_provider
):
    await ensure_sms_template(db)
    typed, number = phone_number()
    client = await new_client(dossier_api, [
        {"type": "phone", "value": typed, "state": "validated", "is_default": True},
    ])
    command = await request(db, client, "sms", SMS_TEMPLATE)
    communication_id = command.payload["communication_id"]

    event_type, payload = await published_outcome(db, communication_id)
    assert event_type == "communication.sent" and payload["channel"] == "sms"
    [sent] = sms_provider.delivered_to(number)
    assert sent["headers"]["Authorization"] == f"Bearer {SMS_PROVIDER_TOKEN}"
    assert sent["headers"]["Idempotency-Key"] == communication_id
    assert sent["json"]["text"] == (
        f"{client['code']} : {TOTAL_FR} restent dus. Merci de regler rapidement."
    )
    trace = await trace_of(dossier_api, client["code"], communication_id)
    assert trace["status"] == "sent" and trace["recipient"] == typed  # F-23
    assert TOTAL_FR in trace["body"]
    row = await db.fetchrow("SELECT provider_ref, attempts FROM notifier.communications WHERE id = $1",
                            UUID(communication_id))
    assert row["provider_ref"].startswith("sms-") and row["attempts"] == 1


async def test_f32_sms_provider_outage_is_retried_and_a_refusal_is_recorded(
    dossier_api, db, sms_provider
):
    await ensure_sms_template(db)
    flaky_typed, flaky = phone_number()
    refused_typed, refused = phone_number()
    sms_provider.script[flaky] = [503, 502]  # then 202
    sms_provider.script[refused] = [400]
    flaky_client = await new_client(dossier_api, [
        {"type": "phone", "value": flaky_typed, "state": "validated", "is_default": True}])
    refused_client = await new_client(dossier_api, [
        {"type": "phone", "value": refused_typed, "state": "validated", "is_default": True}])
    retried = await request(db, flaky_client, "sms", SMS_TEMPLATE)
    rejected = await request(db, refused_client, "sms", SMS_TEMPLATE)

    event_type, _ = await published_outcome(db, retried.payload["communication_id"])
    assert event_type == "communication.sent"
    assert [r["status"] for r in sms_provider.requests if r["json"]["to"] == flaky] == [
        503, 502, 202]
    assert len(sms_provider.delivered_to(flaky)) == 1
    row = await db.fetchrow("SELECT status, attempts FROM notifier.communications WHERE id = $1",
                            UUID(retried.payload["communication_id"]))
    assert (row["status"], row["attempts"]) == ("sent", 3)

    event_type, payload = await published_outcome(db, rejected.payload["communication_id"])
    assert event_type == "communication.failed"
    assert "HTTP 400" in payload["reason"] and payload["needs_attention"] is False
    assert [r["status"] for r in sms_provider.requests if r["json"]["to"] == refused] == [400]
    trace = await trace_of(dossier_api, refused_client["code"],
                           rejected.payload["communication_id"])
    assert trace["status"] == "failed" and "HTTP 400" in trace["error"]  # F-23


async def test_f32_a_long_outage_leaves_the_command_unacknowledged_until_it_gets_through(
    dossier_api, db, sms_provider
):
    """After SEND_MAX_ATTEMPTS (4) transient failures the trace says 'retrying' and Kafka
    redelivers the command; it is sent once the provider is back."""
    await ensure_sms_template(db)
    typed, number = phone_number()
    sms_provider.script[number] = [503] * 5  # then 202
    client = await new_client(dossier_api, [
        {"type": "phone", "value": typed, "state": "validated", "is_default": True}])
    command = await request(db, client, "sms", SMS_TEMPLATE)
    communication_id = UUID(command.payload["communication_id"])

    async def retrying():
        return await db.fetchrow(
            "SELECT status, attempts, error FROM notifier.communications WHERE id = $1"
            " AND status = $2",
            communication_id, "retrying")

    row = await eventually(retrying, timeout=90)
    assert row["attempts"] == 4 and "HTTP 503" in row["error"]  # F-23: failures traced

    event_type, _ = await published_outcome(db, command.payload["communication_id"])
    assert event_type == "communication.sent"
    assert [r["status"] for r in sms_provider.requests if r["json"]["to"] == number] == [
        503, 503, 503, 503, 503, 202]
    row = await db.fetchrow("SELECT status, attempts FROM notifier.communications WHERE id = $1",
                            communication_id)
    assert (row["status"], row["attempts"]) == ("sent", 6)


async def test_f21_manual_sms_to_a_named_number_but_never_an_invalid_one(
    dossier_api, db, sms_provider
):
    await ensure_sms_template(db)
    default_typed, default = phone_number()
    named_typed, named = phone_number()
    invalid_typed, invalid = phone_number()
    client = await new_client(dossier_api, [
        {"type": "phone", "value": default_typed, "state": "validated", "is_default": True},
        {"type": "phone", "value": named_typed, "state": "pending"},
        {"type": "phone", "value": invalid_typed, "state": "invalid"},
    ])
    chosen = await request(db, client, "sms", SMS_TEMPLATE, automatic=False,
                           contact_value=named)
    refused = await request(db, client, "sms", SMS_TEMPLATE, automatic=False,
                            contact_value=invalid_typed)

    assert (await published_outcome(db, chosen.payload["communication_id"]))[0] == (
        "communication.sent")
    event_type, payload = await published_outcome(db, refused.payload["communication_id"])
    assert event_type == "communication.failed" and payload["needs_attention"] is True
    assert payload["reason"].startswith("contact_value:")
    assert len(sms_provider.delivered_to(named)) == 1
    assert not sms_provider.delivered_to(invalid) and not sms_provider.delivered_to(default)


async def test_f32_f10_letter_is_a_pdf_stored_as_a_client_document(dossier_api, db):
    client = await new_client(dossier_api, [
        {"type": "postal", "value": "Service comptable\n12 rue de la Paix\n75002 Paris",
         "state": "validated", "is_default": True},
    ])
    command = await request(db, client, "letter", "relance-courrier-2")
    communication_id = command.payload["communication_id"]

    # The letter is "sent" once its PDF is produced: the workflow marks the step Done.
    event_type, payload = await published_outcome(db, communication_id)
    assert event_type == "communication.sent" and payload["channel"] == "letter"
    assert payload["attachment_id"] == communication_id

    async def letter_listed():
        documents = (await dossier_api.get(f"/clients/{client['code']}/attachments")).json()
        return [d for d in documents if d["id"] == communication_id]

    [letter] = await eventually(letter_listed, timeout=60)  # the dossier recorded it (F-26)
    assert letter["source"] == "letter" and letter["created_by"] == "notifier"
    assert letter["content_type"] == "application/pdf"
    download = await dossier_api.get(
        f"/clients/{client['code']}/attachments/{communication_id}/content")
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")
    assert len(download.content) == letter["size_bytes"]
    text = "\n".join(
        page.extract_text() for page in PdfReader(io.BytesIO(download.content)).pages
    ).replace(NBSP, " ")
    assert client["name"] in text
    assert "12 rue de la Paix" in text and "75002 Paris" in text
    assert f"Objet : Deuxième relance — {client['name']}" in text
    assert "FA-9001" in text and "FA-9002" in text and "03/03/2026" in text
    assert f"Montant total dû : {TOTAL_FR.replace(NBSP, ' ')}" in text

    trace = await trace_of(dossier_api, client["code"], communication_id)
    assert trace["status"] == "sent" and trace["channel"] == "letter"  # F-23
    assert "Montant total dû" in trace["body"]


async def test_f16_internal_email_to_a_colleague_shows_statuses_comments_and_link(
    dossier_api, db, smtp_inbox
):
    client_address = f"client-{uuid4().hex[:8]}@client.example"
    colleague = f"marie-{uuid4().hex[:8]}@relance.example"
    client = await new_client(dossier_api, [
        {"type": "email", "value": client_address, "state": "validated", "is_default": True},
    ])
    link = f"https://relance.example/clients/{client['code']}/items?numbers=FA-9001,FA-9002"
    command = await request(db, client, "internal_email", "internal-email", automatic=False,
                            recipient_email=colleague, sender="Paul Martin", link_url=link,
                            note="Le client conteste la livraison, peux-tu vérifier ?")

    mail = await smtp_inbox.wait_for(colleague, timeout=90)
    assert subject_of(mail) == f"Pièces à consulter : {client['name']} ({client['code']})"
    assert mail["Auto-Submitted"] is None  # written by a person, replies welcome
    body = mail_text(mail)
    assert "Paul Martin vous transmet les pièces suivantes" in body
    assert "FA-9001" in body and "statut : litige" in body
    assert "commentaire : Livraison incomplète" in body
    assert "peux-tu vérifier ?" in body and link in body
    assert not smtp_inbox.to(client_address)  # it goes to the colleague only

    event_type, payload = await published_outcome(db, command.payload["communication_id"])
    assert event_type == "communication.sent" and payload["recipient"] == colleague
    trace = await trace_of(dossier_api, client["code"], command.payload["communication_id"])
    assert trace["channel"] == "internal_email" and trace["recipient"] == colleague  # F-23


async def test_f21_client_with_only_an_invalid_email_gets_nothing_and_needs_attention(
    dossier_api, db, smtp_inbox
):
    address = f"invalid-{uuid4().hex[:8]}@client.example"
    client = await new_client(dossier_api, [
        {"type": "email", "value": address, "state": "invalid"},
    ])
    command = await request(db, client, "email", "relance-email-1")

    event_type, payload = await published_outcome(db, command.payload["communication_id"])
    assert event_type == "communication.failed"
    assert payload["needs_attention"] is True
    assert payload["reason"] == "no default validated email channel"
    trace = await trace_of(dossier_api, client["code"], command.payload["communication_id"])
    assert trace["status"] == "needs_attention" and trace["recipient"] is None
    assert not smtp_inbox.to(address)


async def test_f32_a_redelivered_command_sends_nothing_twice(
    dossier_api, db, smtp_inbox, platform, stack
):
    address = f"once-{uuid4().hex[:8]}@client.example"
    client = await new_client(dossier_api, [
        {"type": "email", "value": address, "state": "validated", "is_default": True},
    ])
    envelope = (await command_for(db, client, "email", "relance-email-1")).envelope(
        aggregate_id=client["id"], client_id=client["id"])
    metrics_url = platform.running["notifier"].url + "/metrics"

    async def duplicates_skipped() -> float:
        async with httpx.AsyncClient() as http:
            text = (await http.get(metrics_url)).text
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith('relance_notifier_commands_skipped_total{reason="duplicate"}')
        )

    before = await duplicates_skipped()
    producer = new_producer(stack.kafka_bootstrap_servers)
    await producer.start()
    try:
        value, key = envelope.model_dump_json().encode(), client["id"].encode()
        await producer.send_and_wait(COMMUNICATION_COMMANDS, value=value, key=key)
        await producer.send_and_wait(COMMUNICATION_COMMANDS, value=value, key=key)
        await smtp_inbox.wait_for(address, timeout=90)
        await producer.send_and_wait(COMMUNICATION_COMMANDS, value=value, key=key)
    finally:
        await producer.stop()

    async def both_redeliveries_skipped():
        return await duplicates_skipped() >= before + 2

    await eventually(both_redeliveries_skipped, timeout=60)
    assert len(smtp_inbox.to(address)) == 1
    sent_events = await db.fetchval(
        "SELECT count(*) FROM notifier.outbox WHERE event_type = 'communication.sent'"
        " AND event->'payload'->>'communication_id' = $1",
        envelope.payload["communication_id"],
    )
    assert sent_events == 1
    await trace_of(dossier_api, client["code"], envelope.payload["communication_id"], "sent")
    trace = (await dossier_api.get(f"/clients/{client['code']}/communications")).json()
    assert [c["status"] for c in trace] == ["sent"]


async def test_f32_sms_delivery_report_updates_the_trace_and_goes_on_the_bus(
    dossier_api, db, sms_provider, platform
):
    await ensure_sms_template(db)
    typed, number = phone_number()
    client = await new_client(dossier_api, [
        {"type": "phone", "value": typed, "state": "validated", "is_default": True},
    ])
    command = await request(db, client, "sms", SMS_TEMPLATE)
    communication_id = command.payload["communication_id"]
    assert (await published_outcome(db, communication_id))[0] == "communication.sent"
    [sent] = sms_provider.delivered_to(number)

    reports_url = platform.running["notifier"].url + "/sms/delivery-reports"
    auth = {"Authorization": f"Bearer {SMS_CALLBACK_TOKEN}"}
    report = {"reference": communication_id, "status": "expired", "id": "sms-x",
              "error": "handset unreachable for 48 h"}
    async with httpx.AsyncClient(timeout=30) as http:
        refused = await http.post(reports_url, json=report,
                                  headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["field"] == "Authorization"
        bad_state = await http.post(reports_url, json={**report, "status": "lost"}, headers=auth)
        assert bad_state.status_code == 422
        assert bad_state.json()["errors"] == [
            {"field": "status", "reason": "unknown delivery state 'lost'"}]
        unknown = await http.post(reports_url, json={**report, "reference": str(uuid4())},
                                  headers=auth)
        assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "reference"
        missing = await http.post(reports_url, json={"status": "delivered"}, headers=auth)
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "reference"

        interim = await http.post(reports_url, json={**report, "status": "queued"}, headers=auth)
        assert interim.json()["outcome"] == "ignored"
        first = await http.post(reports_url, json=report, headers=auth)
        again = await http.post(reports_url, json=report, headers=auth)
    assert first.status_code == 200 and first.json()["outcome"] == "recorded"
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"

    row = await db.fetchrow(
        "SELECT status, delivery_status, provider_ref, error FROM notifier.communications"
        " WHERE id = $1", UUID(communication_id))
    assert row["status"] == "sent" and row["delivery_status"] == "undelivered"
    assert row["provider_ref"] == sent_ref(sms_provider, number)
    assert row["error"] == "handset unreachable for 48 h"

    async def delivery_events():
        return await db.fetch(
            "SELECT event FROM notifier.outbox"
            " WHERE event_type = 'communication.delivery_updated'"
            " AND event->'payload'->>'communication_id' = $1 AND published_at IS NOT NULL",
            communication_id)

    [event] = await eventually(delivery_events, timeout=60)  # once, though reported twice
    payload = event["event"] if isinstance(event["event"], dict) else json.loads(event["event"])
    assert payload["payload"]["delivery_status"] == "undelivered"
    assert payload["payload"]["client_id"] == client["id"]

    async def trace_delivery():  # the dossier's trace shows it too (F-23)
        entry = await trace_of(dossier_api, client["code"], communication_id)
        return entry if entry["delivery_status"] == "undelivered" else None

    entry = await eventually(trace_delivery, timeout=60)
    assert entry["error"] == "handset unreachable for 48 h"
    assert entry["provider_ref"] == sent_ref(sms_provider, number)


def sent_ref(sms_provider, number: str) -> str:
    """The message id the fake provider answered for the number's accepted SMS."""
    index = next(i for i, r in enumerate(sms_provider.requests)
                 if r["json"]["to"] == number and r["status"] < 300)
    return f"sms-{index + 1}"
