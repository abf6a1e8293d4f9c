"""Who is calling the dossier API: users with roles, authenticated by bearer API tokens
(F-4, F-33). The principal, the roles and the guards are shared (`relance.api.auth`); the
users and their tokens are the dossier's own, and other services learn who a token is
by asking `GET /auth/introspect`.

A collector sees only the clients assigned to their collector: others answer 404, as if
they did not exist. Only a token's SHA-256 is stored.

A user with a password (argon2 hash, set by an admin) can also sign in with their name:
that opens a session whose bearer token works like the API token until it expires or
is revoked (the console signs in this way, F-35)."""

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request

from relance.api.auth import WRITERS, Principal, Role, authenticated_by, role_guard, token_sha256
from relance.api.errors import ApiError
from relance.audit import record_audit


def new_token() -> str:
    return f"rl_{secrets.token_urlsafe(32)}"


_hasher = PasswordHasher()
# Checked when no user matches, so an unknown name costs the same time as a wrong password.
_NO_USER_HASH = _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def password_matches(password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _NO_USER_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


async def create_user(
    conn: asyncpg.Connection,
    *,
    name: str,
    role: Role,
    token: str,
    email: str | None = None,
    collector_id: UUID | None = None,
    password_hash: str | None = None,
) -> UUID:
    user_id = uuid4()
    await conn.execute(
        "INSERT INTO users (id, name, email, role, collector_id, token_sha256, password_hash)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        user_id, name, email, role.value, collector_id, token_sha256(token), password_hash,
    )
    return user_id


async def open_session(conn: asyncpg.Connection, user_id: UUID, lifetime: timedelta) -> tuple[str, datetime]:
    """A new session token for the user (only its hash is stored) and when it expires."""
    token, expires_at = new_token(), datetime.now(UTC) + lifetime
    await conn.execute("DELETE FROM user_sessions WHERE user_id = $1 AND expires_at < now()", user_id)
    await conn.execute(
        "INSERT INTO user_sessions (token_sha256, user_id, expires_at) VALUES ($1, $2, $3)",
        token_sha256(token), user_id, expires_at,
    )
    return token, expires_at


async def ensure_bootstrap_admin(pool: asyncpg.Pool, token: str) -> None:
    """The first admin, from the BOOTSTRAP_ADMIN_TOKEN setting; other users are created
    through the API by an admin."""
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO users (id, name, role, token_sha256) VALUES ($1, 'admin', 'admin', $2)"
            " ON CONFLICT (token_sha256) DO NOTHING",
            uuid4(), token_sha256(token),
        )


async def user_by_token(request: Request, token: str) -> Principal | None:
    """The active user a token belongs to (the dossier owns the users table): an API
    token, or the token of a session opened by signing in (F-35) until it expires."""
    pool = request.app.state.pool
    digest = token_sha256(token)
    row = await pool.fetchrow(
        "SELECT id, name, role, collector_id FROM users WHERE token_sha256 = $1 AND active", digest,
    )
    if row is None:
        row = await pool.fetchrow(
            "SELECT u.id, u.name, u.role, u.collector_id, s.expires_at <= now() AS expired"
            " FROM user_sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.token_sha256 = $1 AND u.active", digest,
        )
        if row is not None and row["expired"]:
            raise ApiError(401, "Authorization", "session expired: sign in again")
    if row is None:
        return None
    role = Role(row["role"])
    also_sees = await _also_sees(pool, request.app.state.settings.client_visibility,
                                 row["collector_id"]) if role is Role.COLLECTOR else frozenset()
    return Principal(user_id=row["id"], name=row["name"], role=role,
                     collector_id=row["collector_id"], also_sees=also_sees)


async def _also_sees(pool: asyncpg.Pool, scope: str, collector_id: UUID | None) -> frozenset[UUID] | None:
    """Whose clients a collector may open besides their own (CLIENT_VISIBILITY, F-4)."""
    if scope == "all":
        return None
    if scope == "own" or collector_id is None:
        return frozenset()
    rows = await pool.fetch(
        "SELECT id FROM collectors WHERE id <> $1 AND team IS NOT NULL"
        " AND team = (SELECT team FROM collectors WHERE id = $1)", collector_id,
    )
    return frozenset(r["id"] for r in rows)


current_principal = authenticated_by(user_by_token)


def require(*roles: Role):
    """A dependency that lets only `roles` through (403 for the others)."""
    return role_guard(current_principal, *roles)


can_read = current_principal
can_write = require(*WRITERS)
admin_only = require(Role.ADMIN)


def db_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


async def visible_or_404(conn: asyncpg.Connection, row, principal: Principal, field: str, reason: str):
    """A row of a client the caller may not see answers exactly like one that does not
    exist (F-4); `row` carries the client's `collector_id` (and `client_id`, or is the
    client). A collector opening another collector's client is written to the audit trail."""
    if row is None or not may_see_client(principal, row["collector_id"]):
        raise ApiError(404, field, reason)
    if principal.role is Role.COLLECTOR and row["collector_id"] != principal.collector_id:
        client_id = row["client_id"] if "client_id" in row.keys() else row["id"]
        await record_audit(
            conn, client_id=client_id, actor=principal.actor, action="read_other_collectors_client",
            entity="client", entity_id=str(client_id),
            details={"collector_id": str(row["collector_id"]) if row["collector_id"] else None,
                     "through": field},
        )
    return row


async def client_or_404(conn: asyncpg.Connection, code: str, principal: Principal) -> asyncpg.Record:
    from relance_dossier.persistence.clients import client_by_code

    return await visible_or_404(
        conn, await client_by_code(conn, code), principal, "code", f"no client with code {code!r}"
    )


async def active_dossier_or_409(conn: asyncpg.Connection, client: asyncpg.Record) -> UUID:
    from relance_dossier.persistence.clients import active_dossier

    dossier_id = await active_dossier(conn, client["id"])
    if dossier_id is None:
        raise ApiError(409, "code", "the client has no active dossier")
    return dossier_id


def may_see_client(principal: Principal, client_collector_id: UUID | None) -> bool:
    """F-4: a collector opens the clients assigned to their collector, and those the
    visibility scope adds (every client for `all`, the team's for `team`)."""
    if principal.sees_all_clients or principal.also_sees is None:
        return True
    return client_collector_id is not None and (
        client_collector_id == principal.collector_id or client_collector_id in principal.also_sees
    )


def sees_collector(principal: Principal, collector_id: UUID | None) -> bool:
    """Whether the caller may open a collector's agenda and list their clients."""
    return may_see_client(principal, collector_id)
