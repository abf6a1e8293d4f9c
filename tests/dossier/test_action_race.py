"""Issue 10 (F-15, F-16): two concurrent specific actions on the same items: exactly one
wins, the other sees the items taken (the API's 409), under PostgreSQL's READ COMMITTED.
The dossier's own SQL, two transactions interleaved on purpose."""

import asyncio
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from relance_dossier.persistence import actions as store

FIELDS = {"action_type": "call", "mode": "manual", "priority": 3}


async def _client_with_items(db):
    client_id, dossier_id, code = uuid4(), uuid4(), f"RACE-{uuid4().hex[:8]}"
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO clients (id, code, name) VALUES ($1, $2, $2)", client_id, code)
        await conn.execute("INSERT INTO dossiers (id, client_id, kind) VALUES ($1, $2, 'active')",
                           dossier_id, client_id)
        item_ids = [uuid4(), uuid4()]
        await conn.executemany(
            "INSERT INTO items (id, client_id, dossier_id, kind, number, due_date, amount,"
            " open_amount) VALUES ($1, $2, $3, 'invoice', $4, $5, 100, 100)",
            [(i, client_id, dossier_id, f"F-{n}", date.today()) for n, i in enumerate(item_ids)])
        client = await conn.fetchrow(
            "SELECT c.*, NULL::text AS collector_code FROM clients c WHERE c.id = $1", client_id)
    return client, dossier_id, item_ids


async def test_the_second_of_two_concurrent_actions_sees_the_items_taken(db) -> None:
    client, dossier_id, item_ids = await _client_with_items(db)
    due_at = datetime.now(UTC) + timedelta(days=1)
    async with db.acquire() as first, db.acquire() as second:
        tx1 = first.transaction()
        await tx1.start()
        items1 = await store.selectable_items(first, dossier_id, item_ids)
        assert not any(i["under_action"] for i in items1)

        async def other_collector():
            async with second.transaction():
                items = await store.selectable_items(second, dossier_id, list(reversed(item_ids)))
                return [i["under_action"] for i in items]

        racing = asyncio.create_task(other_collector())
        await asyncio.sleep(0.5)  # the second selection now waits for the first's locks
        assert not racing.done()
        await store.create_action(first, action_id=uuid4(), client=client, dossier_id=dossier_id,
                                  item_ids=item_ids, fields=FIELDS, due_at=due_at, actor="user:a")
        await tx1.commit()
        # The loser sees the winner's action: the API answers it 409.
        assert await asyncio.wait_for(racing, 10) == [True, True]
