"""Templates per locale and late fees in messages, on the real stack (F-38, F-39): the
dossier puts every locale's version of the template and the fees owed at send time in
the command; the notifier writes to the contact in its language (else the client's
locale, else the fallback locale, French) with amounts and dates in that locale, and
renders `#late_interest` and `#recovery_indemnity`. Mails arrive at a real SMTP sink."""

from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from relance.outbox import write_events
from relance_dossier.persistence.communications import communication_command
from tests.notifier.test_notifier import mail_text, subject_of

NBSP = "\u00a0"
BODY = ("{lang}: due #items_amount_selected on {{{{ items[0].due_date | date }}}};"
        " interest #late_interest; indemnity #recovery_indemnity")
SUBJECT = "{lang} {{{{ client.name }}}}"


async def template_in(dossier_api, *locales: str) -> str:
    code = f"test-locale-{uuid4().hex[:8]}"
    for locale in locales:
        response = await dossier_api.post("/templates", json={
            "code": code, "channel": "email", "locale": locale,
            "subject": SUBJECT.format(lang=locale.upper()), "body": BODY.format(lang=locale.upper()),
        })
        assert response.status_code == 201, response.text
    return code


async def paris_today(db) -> date:
    return await db.fetchval("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")


async def client_with(dossier_api, db, *, locale: str, language: str | None) -> tuple[dict, str, date]:
    """A client with one invoice of 1,000.00 € 73 days late (interest at 12.15 %:
    1000 × 0.1215 × 73 / 365 = 24.30 exactly; indemnity 40.00 €) and a validated email
    that is not the default, so the scenario's automatic email never goes to it."""
    code = f"LOC-{uuid4().hex[:8]}"
    address = f"{code.lower()}@client.example"
    due = await paris_today(db) - timedelta(days=73)
    response = await dossier_api.post("/clients", json={
        "code": code, "name": f"Client {code}", "locale": locale,
        "contacts": [{"name": "Accounts", "language": language,
                      "channels": [{"type": "email", "value": address, "state": "validated"}]}],
        "items": [{"number": "INV-1", "due_date": str(due), "amount": "1000.00"}],
    })
    assert response.status_code == 201, response.text
    return response.json()["client"], address, due


async def send(db, client: dict, address: str, template_code: str) -> None:
    async with db.acquire() as conn, conn.transaction():
        item_ids = [r["id"] for r in await conn.fetch(
            "SELECT id FROM items WHERE client_id = $1", UUID(client["id"]))]
        command = await communication_command(
            conn, communication_id=uuid4(), client_id=UUID(client["id"]), channel="email",
            template_code=template_code, item_ids=item_ids, automatic=False,
            contact_value=address,
        )
        await write_events(conn, [command.envelope(aggregate_id=client["id"], client_id=client["id"])])
    assert [(f.currency, f.interest, f.indemnity) for f in command.late_fees] == [
        ("EUR", Decimal("24.30"), Decimal("40.00"))]


async def test_f39_f38_an_english_contact_gets_the_english_template_and_formatting(
    dossier_api, db, smtp_inbox
):
    template = await template_in(dossier_api, "fr", "en")
    client, address, due = await client_with(dossier_api, db, locale="fr", language="en")
    await send(db, client, address, template)
    mail = await smtp_inbox.wait_for(address, timeout=90)
    assert subject_of(mail) == f"EN {client['name']}"
    assert mail_text(mail).strip() == (
        f"EN: due €1,000.00 on {due.month}/{due.day}/{due.year};"
        " interest €24.30; indemnity €40.00")


async def test_f39_a_contact_without_language_gets_the_clients_locale(dossier_api, db, smtp_inbox):
    template = await template_in(dossier_api, "fr", "en")
    client, address, due = await client_with(dossier_api, db, locale="en", language=None)
    await send(db, client, address, template)
    mail = await smtp_inbox.wait_for(address, timeout=90)
    assert mail_text(mail).startswith(f"EN: due €1,000.00 on {due.month}/{due.day}/{due.year};")


async def test_f39_f38_a_locale_without_a_version_falls_back_to_french(dossier_api, db, smtp_inbox):
    template = await template_in(dossier_api, "fr", "en")
    # German client, Spanish contact: no version of either; the fallback is French.
    client, address, due = await client_with(dossier_api, db, locale="de", language="es")
    await send(db, client, address, template)
    mail = await smtp_inbox.wait_for(address, timeout=90)
    assert subject_of(mail) == f"FR {client['name']}"
    assert mail_text(mail).strip() == (
        f"FR: due 1{NBSP}000,00{NBSP}€ on {due:%d/%m/%Y};"
        f" interest 24,30{NBSP}€; indemnity 40,00{NBSP}€")


async def test_f39_a_template_in_one_locale_serves_every_reader(dossier_api, db, smtp_inbox):
    template = await template_in(dossier_api, "en")
    client, address, _ = await client_with(dossier_api, db, locale="fr", language="fr")
    await send(db, client, address, template)
    mail = await smtp_inbox.wait_for(address, timeout=90)
    assert mail_text(mail).startswith("EN: due €1,000.00")
