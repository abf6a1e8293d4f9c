"""The walking skeleton, end to end on the real stack (F-1, F-2, F-9, F-10, F-21, F-23, F-32):

dossier API → outbox → relay → Kafka → workflow bridge → dossier workflow (Temporal) →
communication command → notifier → SMTP → trace and intervention Done in the API."""

from datetime import date, timedelta
from decimal import Decimal
from uuid import uuid4

from tests.conftest import eventually

# French amounts group thousands with a no-break space so an amount never wraps.
TOTAL_DUE_FR = "2\u00a0099,99\u00a0€"


async def test_overdue_client_gets_first_reminder_email_and_the_api_shows_it(dossier_api, smtp_inbox):
    code = f"SKEL-{uuid4().hex[:8]}"
    email = f"compta+{code.lower()}@client.example"
    today = date.today()
    items = [
        {"number": "F-1001", "due_date": str(today - timedelta(days=40)), "amount": "1200.00"},
        {"number": "F-1002", "due_date": str(today - timedelta(days=25)), "amount": "845.50"},
        {"number": "F-1003", "due_date": str(today - timedelta(days=3)), "amount": "99.99",
         "open_amount": "54.49"},
    ]
    response = await dossier_api.post("/clients", json={
        "code": code,
        "name": "Skeleton Client SA",
        "contacts": [{
            "name": "Comptabilité",
            "channels": [
                {"type": "email", "value": "old@client.example", "state": "invalid"},
                {"type": "email", "value": email, "state": "validated", "is_default": True},
            ],
        }],
        "items": items,
    })
    assert response.status_code == 201, response.text
    card = response.json()
    assert card["active_dossier"]["kind"] == "active"
    assert Decimal(card["client"]["balance"]) == Decimal("2099.99")  # 1200 + 845.50 + 54.49
    assert len(card["open_items"]) == 3

    # The first step of the default scenario is an email due at the earliest due date:
    # long past, so it runs at once and reaches the client's default validated address.
    mail = await smtp_inbox.wait_for(email, timeout=90)
    body = mail.get_payload(decode=True).decode(mail.get_content_charset() or "utf-8")
    assert "Skeleton Client SA" in mail["Subject"]
    assert f"Montant total dû : {TOTAL_DUE_FR}" in body
    for number in ("F-1001", "F-1002", "F-1003"):
        assert number in body
    assert not smtp_inbox.to("old@client.example")  # never an invalid channel (F-21)

    async def intervention_done():
        listed = (await dossier_api.get(f"/clients/{code}/interventions")).json()
        return listed if listed and listed[0]["status"] == "done" else None

    interventions = await eventually(intervention_done, timeout=60)
    assert interventions[0]["action_type"] == "email"
    assert interventions[0]["step_index"] == 0

    async def traced():  # the dossier's trace follows the notifier's events (F-23)
        trace = (await dossier_api.get(f"/clients/{code}/communications")).json()
        return trace if trace and trace[0]["status"] == "sent" else None

    trace = await eventually(traced, timeout=60)
    assert len(trace) == 1
    assert trace[0]["status"] == "sent"
    assert trace[0]["recipient"] == email
    assert trace[0]["intervention_id"] == interventions[0]["id"]
    assert TOTAL_DUE_FR in trace[0]["body"]
