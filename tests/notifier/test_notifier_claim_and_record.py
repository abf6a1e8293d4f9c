"""The claim of a command's event and the record of its outcome in one statement
(F-32: nothing sent twice; F-23: the trace), on the real database."""

from uuid import uuid4

from relance.db import create_pool
from relance_notifier.persistence import repository as repo
from relance_notifier.persistence.migrations import SCHEMA as NOTIFIER_SCHEMA


def record(communication_id, client_id, status: str, attempts: int = 1) -> repo.CommunicationRecord:
    return repo.CommunicationRecord(
        id=communication_id, client_id=client_id, channel="email", status=status,
        recipient="compta@client.example", subject="Relance", body="Bonjour",
        attempts=attempts, sent=status == "sent",
    )


async def test_f32_an_event_claimed_once_records_its_outcome_once(stack) -> None:
    pool = await create_pool(stack.database_url, schema=NOTIFIER_SCHEMA, max_size=2)
    try:
        communication_id, client_id, event_id = uuid4(), uuid4(), uuid4()
        async with pool.acquire() as conn:
            await repo.upsert_communication(conn, record(communication_id, client_id, "sending", 0))
            async with conn.transaction():
                first = await repo.claim_and_upsert_communication(
                    conn, "notifier", event_id, record(communication_id, client_id, "sent", 2))
            async with conn.transaction():
                again = await repo.claim_and_upsert_communication(
                    conn, "notifier", event_id, record(communication_id, client_id, "sent", 2))
            # Another event for the same communication, sent already: the row stays.
            async with conn.transaction():
                other = await repo.claim_and_upsert_communication(
                    conn, "notifier", uuid4(), record(communication_id, client_id, "failed", 5))
            row = await conn.fetchrow(
                "SELECT status, attempts, sent_at FROM communications WHERE id = $1",
                communication_id)
            claims = await conn.fetchval(
                "SELECT count(*) FROM processed_events WHERE consumer = 'notifier'"
                " AND event_id = $1", event_id)
        assert first is not None and first.attempts == 2 and first.sent_at is not None
        assert again is None and other is None
        assert (row["status"], row["attempts"], row["sent_at"]) == ("sent", 2, first.sent_at)
        assert claims == 1
    finally:
        await pool.close()
