"""ERP events (F-42, F-3) on the real broker and database: client, item and payment events
on `erp.events` go through the same checks and upserts as a file import, once each, in
the ERP's order; what the import refuses is parked as a dead letter with its reason and
the consumer goes on."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from relance.events import ErpClientUpserted, ErpItemUpserted, ErpPaymentRecorded, EventEnvelope, EventPayload
from relance.kafka import new_producer
from relance.topics import ERP_EVENTS
from tests.conftest import eventually

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
async def erp(stack, platform):
    producer = new_producer(stack.kafka_bootstrap_servers)
    await producer.start()

    async def publish(payload: EventPayload, code: str, at: datetime = T0) -> EventEnvelope:
        envelope = payload.envelope(aggregate_id=code, client_id=code, actor="erp", occurred_at=at)
        await producer.send_and_wait(ERP_EVENTS, value=envelope.model_dump_json().encode(),
                                     key=code.encode())
        return envelope

    publish.raw = producer  # type: ignore[attr-defined]
    yield publish
    await producer.stop()


async def _item(db, code: str, number: str):
    return await db.fetchrow(
        "SELECT i.amount, i.open_amount, i.due_date, i.currency, i.dossier_id, d.kind AS holder"
        " FROM items i JOIN clients c ON c.id = i.client_id JOIN dossiers d ON d.id = i.dossier_id"
        " WHERE c.code = $1 AND i.number = $2", code, number)


async def test_f42_a_client_its_item_and_a_payment_arrive_as_an_import_makes_them(erp, db, dossier_api):
    code = f"ERP-{uuid4().hex[:8].upper()}"
    await erp(ErpClientUpserted(code=code, name="Brasserie du Port", country="FR", segment="S1"), code)
    await erp(ErpItemUpserted(client_code=code, number="F-1", due_date=date(2026, 10, 31),
                              amount=Decimal("1200.00")), code, T0 + timedelta(seconds=1))
    item = await eventually(lambda: _item(db, code, "F-1"), timeout=60)
    assert (item["amount"], item["open_amount"], item["currency"], item["holder"]) == (
        Decimal("1200.00"), Decimal("1200.00"), "EUR", "active")
    card = (await dossier_api.get(f"/clients/{code}")).json()
    assert card["client"]["name"] == "Brasserie du Port" and card["active_dossier"] is not None

    payment = ErpPaymentRecorded(client_code=code, item_number="F-1", amount=Decimal("200.00"),
                                 paid_on=date(2026, 11, 29), reference=f"PAY-{code}")
    first = await erp(payment, code, T0 + timedelta(seconds=2))
    await erp(payment, code, T0 + timedelta(seconds=3))  # the ERP sends the same payment again

    async def paid():
        row = await _item(db, code, "F-1")
        return row if row["open_amount"] == Decimal("1000.00") else None

    await eventually(paid, timeout=60)
    # The same event delivered again changes nothing either (its id was recorded).
    await erp.raw.send_and_wait(ERP_EVENTS, value=first.model_dump_json().encode(), key=code.encode())
    marker = await erp(ErpItemUpserted(client_code=code, number="F-2", due_date=date(2026, 12, 31),
                                       amount=Decimal("10.00")), code, T0 + timedelta(seconds=4))
    await eventually(lambda: _item(db, code, "F-2"), timeout=60)
    assert (await _item(db, code, "F-1"))["open_amount"] == Decimal("1000.00")
    assert await db.fetchval("SELECT count(*) FROM import_payments WHERE reference = $1", f"PAY-{code}") == 1
    assert await db.fetchval("SELECT count(*) FROM processed_events WHERE event_id = ANY($1::uuid[])",
                             [first.event_id, marker.event_id]) == 2


async def test_f42_an_older_item_event_does_not_overwrite_a_newer_one(erp, db):
    code = f"ERP-{uuid4().hex[:8].upper()}"
    await erp(ErpClientUpserted(code=code, name="Late correction"), code)
    newer = ErpItemUpserted(client_code=code, number="F-9", due_date=date(2026, 11, 15), amount=Decimal("300.00"))
    older = ErpItemUpserted(client_code=code, number="F-9", due_date=date(2026, 11, 15), amount=Decimal("999.00"))
    await erp(newer, code, T0 + timedelta(hours=2))
    await erp(older, code, T0 + timedelta(hours=1))  # sent late by the ERP
    marker = f"M-{uuid4().hex[:6]}"
    await erp(ErpItemUpserted(client_code=code, number=marker, due_date=date(2026, 12, 1),
                              amount=Decimal("1.00")), code, T0 + timedelta(hours=3))
    await eventually(lambda: _item(db, code, marker), timeout=60)
    assert (await _item(db, code, "F-9"))["amount"] == Decimal("300.00")


async def test_f42_a_refused_event_is_a_dead_letter_with_the_import_reason_and_the_next_applies(erp, db):
    code = f"ERP-{uuid4().hex[:8].upper()}"
    refused = await erp(ErpItemUpserted(client_code=f"NOBODY-{code}", number="X-1", due_date=date(2026, 11, 1),
                                        amount=Decimal("50.00")), code)
    garbled = EventEnvelope(event_id=uuid4(), event_type="erp.item.upserted", schema_version=1,
                            occurred_at=T0, aggregate_id=code, client_id=code,
                            payload={"client_code": code, "number": "X-2"})  # no due date, no amount
    await erp.raw.send_and_wait(ERP_EVENTS, value=garbled.model_dump_json().encode(), key=code.encode())
    await erp(ErpClientUpserted(code=code, name="After the bad ones"), code, T0 + timedelta(seconds=5))

    await eventually(lambda: db.fetchval("SELECT id FROM clients WHERE code = $1", code), timeout=60)
    letters = await db.fetch("SELECT error, payload FROM dossier.dead_letters WHERE topic = $1 AND key = $2"
                             " ORDER BY id", ERP_EVENTS, code)
    assert len(letters) == 2
    assert str(refused.event_id) in bytes(letters[0]["payload"]).decode()
    assert "client_code" in letters[0]["error"] and f"NOBODY-{code}" in letters[0]["error"]
    assert "due_date" in letters[1]["error"] and "amount" in letters[1]["error"]
    assert await db.fetchval("SELECT count(*) FROM items i JOIN clients c ON c.id = i.client_id"
                             " WHERE c.code = $1", f"NOBODY-{code}") == 0
