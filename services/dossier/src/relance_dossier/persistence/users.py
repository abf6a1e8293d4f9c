"""SQL for users (F-4): created through `relance_dossier.api.auth.create_user`, listed
and deactivated here. A deactivated user's token stops working at once."""

from uuid import UUID

import asyncpg

_USER = (
    "SELECT u.id, u.name, u.email, u.role, u.active, u.created_at, k.code AS collector_code"
    " FROM users u LEFT JOIN collectors k ON k.id = u.collector_id"
)


async def list_users(conn: asyncpg.Connection, *, include_inactive: bool) -> list[asyncpg.Record]:
    return await conn.fetch(f"{_USER} WHERE $1 OR u.active ORDER BY u.name, u.created_at", include_inactive)


async def user_by_id(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_USER} WHERE u.id = $1", user_id)


async def deactivate_user(conn: asyncpg.Connection, user_id: UUID) -> bool:
    """False when there is no such user; deactivating twice is harmless."""
    status = await conn.execute("UPDATE users SET active = false WHERE id = $1", user_id)
    return status.endswith(" 1")
