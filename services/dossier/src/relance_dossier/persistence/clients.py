"""SQL for client accounts, their items, contacts and dossiers."""

from typing import Any
from uuid import UUID, uuid4

import asyncpg

from relance.audit import record_audit  # noqa: F401 - the dossier's writers import it from here
from relance.events import ClientCreated, ContactCreated, DossierOpened, EventEnvelope, ItemCreated
from relance.outbox import write_events
from relance_dossier.persistence.assignment import assign_new_clients
from relance_dossier.persistence.search import BALANCES_SQL


class ClientCodeTaken(Exception):
    pass


async def create_client(
    conn: asyncpg.Connection, data: Any, actor: str, collector_id: UUID | None = None
) -> UUID:
    """Create a client with its contacts and items in its new active dossier.

    A client created by a collector is theirs (`collector_id`); any other new client gets
    its collector from the assignment rules (F-6). One transaction: the rows, the audit
    entry and the outbox events commit together."""
    client_id, dossier_id = uuid4(), uuid4()
    async with conn.transaction():
        inserted = await conn.fetchval(
            "INSERT INTO clients (id, code, name, country, segment, category, tags, risk,"
            " scenario_code, locale, collector_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
            " ON CONFLICT (code) DO NOTHING RETURNING id",
            client_id, data.code, data.name, data.country, data.segment, data.category,
            data.tags, data.risk, data.scenario_code, data.locale, collector_id,
        )
        if inserted is None:
            raise ClientCodeTaken(data.code)
        await conn.execute(
            "INSERT INTO dossiers (id, client_id, kind, state) VALUES ($1, $2, 'active', 'open')",
            dossier_id, client_id,
        )
        events: list[EventEnvelope] = [
            ClientCreated(
                client_id=client_id, code=data.code, name=data.name, collector_id=collector_id
            ).envelope(
                aggregate_id=client_id, client_id=client_id, actor=actor
            )
        ]
        for contact in data.contacts:
            contact_id = uuid4()
            await conn.execute(
                "INSERT INTO contacts (id, client_id, name, observation, language)"
                " VALUES ($1,$2,$3,$4,$5)",
                contact_id, client_id, contact.name, contact.observation, contact.language,
            )
            await conn.executemany(
                "INSERT INTO contact_channels (id, contact_id, client_id, type, value, state,"
                " is_default) VALUES ($1,$2,$3,$4,$5,$6,$7)",
                [
                    (uuid4(), contact_id, client_id, ch.type, ch.value, ch.state, ch.is_default)
                    for ch in contact.channels
                ],
            )
            events.append(
                ContactCreated(contact_id=contact_id, client_id=client_id, name=contact.name)
                .envelope(aggregate_id=contact_id, client_id=client_id, actor=actor)
            )
        item_rows = [
            (
                uuid4(), client_id, dossier_id, item.kind, item.number, item.issue_date,
                item.due_date, item.amount,
                item.amount if item.open_amount is None else item.open_amount, item.currency,
            )
            for item in data.items
        ]
        await conn.executemany(
            "INSERT INTO items (id, client_id, dossier_id, kind, number, issue_date, due_date,"
            " amount, open_amount, currency) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
            item_rows,
        )
        events += [
            ItemCreated(
                item_id=row[0], client_id=client_id, dossier_id=dossier_id, kind=row[3],
                number=row[4], due_date=row[6], amount=row[7], open_amount=row[8],
                currency=row[9],
            ).envelope(aggregate_id=row[0], client_id=client_id, actor=actor)
            for row in item_rows
        ]
        # The active dossier opens with the client: the workflow service starts its
        # scenario on this event.
        events.append(
            DossierOpened(
                dossier_id=dossier_id, client_id=client_id, client_code=data.code,
                scenario_code=data.scenario_code,
            ).envelope(aggregate_id=dossier_id, client_id=client_id, actor=actor)
        )
        await write_events(conn, events)
        await record_audit(
            conn, client_id=client_id, actor=actor, action="create", entity="client",
            entity_id=data.code,
        )
        # F-6: the assignment rules and the default collector apply to every new client.
        await assign_new_clients(conn, [client_id], actor)
    return client_id


async def client_by_code(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT c.*, k.code AS collector_code, k.name AS collector_name,"
        " COALESCE((SELECT sum(CASE WHEN i.kind IN ('invoice', 'fee') THEN i.open_amount"
        " ELSE -i.open_amount END) FROM items i WHERE i.client_id = c.id), 0)::numeric(18,2)"
        f" AS balance, {BALANCES_SQL} AS balances"
        " FROM clients c LEFT JOIN collectors k ON k.id = c.collector_id"
        " WHERE c.code = $1",
        code,
    )


async def active_dossier(conn: asyncpg.Connection, client_id: UUID) -> UUID | None:
    """The client's active dossier ("En-cours"), the holder of items under normal
    collection (F-2)."""
    return await conn.fetchval(
        "SELECT id FROM dossiers WHERE client_id = $1 AND kind = 'active'", client_id
    )


async def dossiers_of(conn: asyncpg.Connection, client_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM dossiers WHERE client_id = $1 ORDER BY opened_at", client_id
    )


async def open_items_of(
    conn: asyncpg.Connection, client_id: UUID, limit: int | None = None, offset: int = 0
) -> list[asyncpg.Record]:
    """Every open item, or one page of them (the console's account statement)."""
    return await conn.fetch(
        "SELECT * FROM items WHERE client_id = $1 AND open_amount <> 0"
        " ORDER BY due_date, number LIMIT $2 OFFSET $3",
        client_id, limit, offset,
    )


async def open_items_summary(conn: asyncpg.Connection, client_id: UUID) -> asyncpg.Record:
    """How many open items, and the open balance by days past due (F-36 buckets: not due,
    1–30, 31–60, 61–90, 90+); credit notes and payments count negative, as in the balance."""
    signed = "CASE WHEN kind IN ('invoice', 'fee') THEN open_amount ELSE -open_amount END"
    late = "(current_date - due_date)"
    return await conn.fetchrow(
        "SELECT count(*) AS open_item_count,"
        f" COALESCE(sum({signed}) FILTER (WHERE {late} <= 0), 0)::numeric(18,2) AS not_due,"
        f" COALESCE(sum({signed}) FILTER (WHERE {late} BETWEEN 1 AND 30), 0)::numeric(18,2) AS days_1_30,"
        f" COALESCE(sum({signed}) FILTER (WHERE {late} BETWEEN 31 AND 60), 0)::numeric(18,2) AS days_31_60,"
        f" COALESCE(sum({signed}) FILTER (WHERE {late} BETWEEN 61 AND 90), 0)::numeric(18,2) AS days_61_90,"
        f" COALESCE(sum({signed}) FILTER (WHERE {late} > 90), 0)::numeric(18,2) AS days_90_plus"
        " FROM items WHERE client_id = $1 AND open_amount <> 0",
        client_id,
    )


async def contacts_of(conn: asyncpg.Connection, client_id: UUID, include_invalid: bool) -> list[dict]:
    contacts = await conn.fetch(
        "SELECT * FROM contacts WHERE client_id = $1 ORDER BY created_at", client_id
    )
    channels = await conn.fetch(
        "SELECT * FROM contact_channels WHERE client_id = $1"
        " AND ($2 OR state <> 'invalid') ORDER BY created_at",
        client_id, include_invalid,
    )
    by_contact: dict[UUID, list] = {}
    for ch in channels:
        by_contact.setdefault(ch["contact_id"], []).append(dict(ch))
    return [{**dict(c), "channels": by_contact.get(c["id"], [])} for c in contacts]


async def interventions_of(
    conn: asyncpg.Connection, client_id: UUID, pending_only: bool = False
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM interventions WHERE client_id = $1 AND (NOT $2 OR status = 'todo')"
        " ORDER BY due_at, created_at",
        client_id, pending_only,
    )


async def communications_of(conn: asyncpg.Connection, client_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM communications WHERE client_id = $1 ORDER BY created_at", client_id
    )


