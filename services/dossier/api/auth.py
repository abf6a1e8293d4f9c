"""Who is calling: users with roles, authenticated by bearer API tokens (F-4, F-33).

Roles: `admin` (everything, users), `manager` (every client), `collector` (only the
clients assigned to their collector: others answer 404, as if they did not exist),
`read_only` (reads every client, changes nothing). Only a token's SHA-256 is stored.

A user with a password (argon2 hash, set by an admin) can also sign in with their name:
that opens a session whose bearer token works like the API token until it expires or
is revoked (the console signs in this way, F-35)."""

import asyncio
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from pydantic import BaseModel

from relance_dossier.api.errors import ApiError


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    COLLECTOR = "collector"
    READ_ONLY = "read_only"


WRITERS = (Role.ADMIN, Role.MANAGER, Role.COLLECTOR)


class Principal(BaseModel):
    user_id: UUID
    name: str
    role: Role
    collector_id: UUID | None = None

    @property
    def actor(self) -> str:
        """How the audit trail names this caller (F-33)."""
        return f"user:{self.name}"

    @property
    def sees_all_clients(self) -> bool:
        return self.role is not Role.COLLECTOR


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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


async def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "Authorization", "a bearer API token is required")
    digest = token_sha256(token.strip())
    pool = request.app.state.pool
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
        raise ApiError(401, "Authorization", "unknown or revoked API token")
    return Principal(user_id=row["id"], name=row["name"], role=Role(row["role"]),
                     collector_id=row["collector_id"])


def require(*roles: Role):
    """A dependency that lets only `roles` through (403 for the others)."""

    async def check(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in roles:
            raise ApiError(403, None, f"role {principal.role.value} may not do this")
        return principal

    return check


can_read = current_principal
can_write = require(*WRITERS)
admin_only = require(Role.ADMIN)


def db_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


def visible_or_404(row, principal: Principal, field: str, reason: str):
    """A row of a client the caller may not see answers exactly like one that does not
    exist (F-4); `row` carries the client's `collector_id`."""
    if row is None or not may_see_client(principal, row["collector_id"]):
        raise ApiError(404, field, reason)
    return row


async def client_or_404(conn: asyncpg.Connection, code: str, principal: Principal) -> asyncpg.Record:
    from relance_dossier.persistence.clients import client_by_code

    return visible_or_404(
        await client_by_code(conn, code), principal, "code", f"no client with code {code!r}"
    )


async def active_dossier_or_409(conn: asyncpg.Connection, client: asyncpg.Record) -> UUID:
    from relance_dossier.persistence.clients import active_dossier

    dossier_id = await active_dossier(conn, client["id"])
    if dossier_id is None:
        raise ApiError(409, "code", "the client has no active dossier")
    return dossier_id


def may_see_client(principal: Principal, client_collector_id: UUID | None) -> bool:
    """A collector sees only the clients assigned to their collector (F-4)."""
    return principal.sees_all_clients or (
        principal.collector_id is not None and client_collector_id == principal.collector_id
    )
