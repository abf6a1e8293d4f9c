"""SQL for collectors and for the pending actions of a collector's clients (F-8)."""

from uuid import UUID, uuid4

import asyncpg


class CollectorCodeTaken(Exception):
    pass


async def create_collector(
    conn: asyncpg.Connection, *, code: str, name: str, email: str | None, team: str | None = None
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO collectors (id, code, name, email, team) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (code) DO NOTHING RETURNING *",
        uuid4(), code, name, email, team,
    )
    if row is None:
        raise CollectorCodeTaken(code)
    return row


async def collector_by_code(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM collectors WHERE code = $1", code)


async def list_collectors(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT k.*, (SELECT count(*) FROM clients c WHERE c.collector_id = k.id) AS client_count"
        " FROM collectors k ORDER BY k.code"
    )


async def update_collector(
    conn: asyncpg.Connection, collector_id: UUID, *, name: str | None, email: str | None,
    clear_email: bool, team: str | None = None, clear_team: bool = False,
) -> asyncpg.Record:
    return await conn.fetchrow(
        "UPDATE collectors SET name = COALESCE($2, name),"
        " email = CASE WHEN $4 THEN NULL ELSE COALESCE($3, email) END,"
        " team = CASE WHEN $6 THEN NULL ELSE COALESCE($5, team) END"
        " WHERE id = $1 RETURNING *",
        collector_id, name, email, clear_email, team, clear_team,
    )


async def collector_usage(conn: asyncpg.Connection, collector_id: UUID) -> dict[str, int]:
    """What still points at a collector, so deleting it can say what to reassign first."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM clients WHERE collector_id = $1) AS clients,"
        " (SELECT count(*) FROM users WHERE collector_id = $1 AND active) AS users,"
        " (SELECT count(*) FROM assignment_rules WHERE collector_id = $1) AS rules,"
        " (SELECT count(*) FROM assignment_settings WHERE default_collector_id = $1) AS default_collector",
        collector_id,
    )
    return {k: v for k, v in dict(row).items() if v}


async def delete_collector(conn: asyncpg.Connection, collector_id: UUID) -> None:
    # Deactivated users keep their history but lose the link, so the collector can go.
    await conn.execute(
        "UPDATE users SET collector_id = NULL WHERE collector_id = $1 AND NOT active", collector_id
    )
    await conn.execute("DELETE FROM collectors WHERE id = $1", collector_id)


async def pending_interventions_of_collector(
    conn: asyncpg.Connection, collector_id: UUID, *, limit: int = 500, offset: int = 0
) -> list[asyncpg.Record]:
    """F-8: the pending actions (interventions To do) of the clients assigned to the
    collector *now*: the agenda follows the client when it is reassigned, because it is
    read through the client's current collector, never copied onto the intervention."""
    return await conn.fetch(
        "SELECT i.*, c.code AS client_code, c.name AS client_name"
        " FROM interventions i JOIN clients c ON c.id = i.client_id"
        " WHERE c.collector_id = $1 AND i.status = 'todo'"
        " ORDER BY i.due_at, i.created_at, i.id LIMIT $2 OFFSET $3",
        collector_id, limit, offset,
    )
