"""SQL for users (F-4): created through `relance_dossier.api.auth.create_user`, listed
and deactivated here. A deactivated user's token stops working at once."""

from uuid import UUID

import asyncpg

_USER = (
    "SELECT u.id, u.name, u.email, u.role, u.active, u.created_at, k.code AS collector_code,"
    " u.password_hash IS NOT NULL AS has_password"
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


async def set_password_hash(conn: asyncpg.Connection, user_id: UUID, password_hash: str) -> bool:
    """False when there is no such user. The user's open sessions end with the old password."""
    status = await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)
    if not status.endswith(" 1"):
        return False
    await conn.execute("DELETE FROM user_sessions WHERE user_id = $1", user_id)
    return True


async def users_signing_in(conn: asyncpg.Connection, name: str) -> list[asyncpg.Record]:
    """The active users of that name who have a password."""
    return await conn.fetch(
        "SELECT id, password_hash FROM users WHERE name = $1 AND active AND password_hash IS NOT NULL", name,
    )
