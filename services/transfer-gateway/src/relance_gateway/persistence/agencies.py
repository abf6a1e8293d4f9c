"""The agencies registry and their credentials (F-31)."""

from dataclasses import dataclass
from uuid import UUID, uuid4

import asyncpg
import structlog

from relance_gateway.domain.credentials import api_key_sha256, secrets_to_revoke
from relance_gateway.domain.secret_box import SecretBox, SecretUnreadable

log = structlog.get_logger(__name__)

AGENCY_COLUMNS = "id, code, name, webhook_url, active, created_at, updated_at"


@dataclass(frozen=True)
class AgencyCaller:
    """An agency as an authenticated caller: who it is and the secrets that verify it."""

    id: UUID
    code: str
    active: bool
    secrets: list[str]


async def create_agency(
    conn: asyncpg.Connection, *, code: str, name: str, webhook_url: str | None,
    active: bool, api_key: str, secret: str, box: SecretBox,
) -> asyncpg.Record | None:
    """Insert an agency with its first credentials; None if the code is taken."""
    agency_id = uuid4()
    row = await conn.fetchrow(
        "INSERT INTO gateway_agencies (id, code, name, webhook_url, active, api_key_sha256)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO NOTHING"
        f" RETURNING {AGENCY_COLUMNS}",
        agency_id, code, name, webhook_url, active, api_key_sha256(api_key),
    )
    if row is not None:
        await add_secret(conn, agency_id, secret, box)
    return row


async def list_agencies(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {AGENCY_COLUMNS} FROM gateway_agencies ORDER BY code")


async def get_agency(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {AGENCY_COLUMNS} FROM gateway_agencies WHERE code = $1", code
    )


async def update_agency(
    conn: asyncpg.Connection, code: str, changes: dict
) -> asyncpg.Record | None:
    allowed = {k: v for k, v in changes.items() if k in ("name", "webhook_url", "active")}
    if not allowed:
        return await get_agency(conn, code)
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(allowed, start=2))
    return await conn.fetchrow(
        f"UPDATE gateway_agencies SET {assignments}, updated_at = now() WHERE code = $1"
        f" RETURNING {AGENCY_COLUMNS}",
        code, *allowed.values(),
    )


async def active_secret_count(conn: asyncpg.Connection, agency_id: UUID) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM gateway_agency_secrets WHERE agency_id = $1 AND revoked_at IS NULL",
        agency_id,
    )


async def add_secret(conn: asyncpg.Connection, agency_id: UUID, secret: str, box: SecretBox) -> None:
    """Add a signing secret (encrypted) and revoke all but the two newest active ones."""
    await conn.execute(
        "INSERT INTO gateway_agency_secrets (id, agency_id, secret) VALUES ($1, $2, $3)",
        uuid4(), agency_id, box.seal(secret),
    )
    active = await conn.fetch(
        "SELECT id FROM gateway_agency_secrets WHERE agency_id = $1 AND revoked_at IS NULL"
        " ORDER BY created_at DESC, id",
        agency_id,
    )
    stale = secrets_to_revoke([r["id"] for r in active])
    if stale:
        await conn.execute(
            "UPDATE gateway_agency_secrets SET revoked_at = now() WHERE id = ANY($1::uuid[])",
            stale,
        )


async def replace_api_key(conn: asyncpg.Connection, agency_id: UUID, api_key: str) -> None:
    await conn.execute(
        "UPDATE gateway_agencies SET api_key_sha256 = $2, updated_at = now() WHERE id = $1",
        agency_id, api_key_sha256(api_key),
    )


def _readable(box: SecretBox, stored: list[str], agency_code: str) -> list[str]:
    secrets = []
    for value in stored:
        try:
            secrets.append(box.open(value))
        except SecretUnreadable as exc:
            log.error("gateway.secret_unreadable", agency_code=agency_code, error=str(exc))
    return secrets


async def caller_by_api_key(
    conn: asyncpg.Connection, api_key: str, box: SecretBox
) -> AgencyCaller | None:
    row = await conn.fetchrow(
        "SELECT a.id, a.code, a.active,"
        " coalesce(array_agg(s.secret ORDER BY s.created_at DESC)"
        "   FILTER (WHERE s.id IS NOT NULL), '{}') AS secrets"
        " FROM gateway_agencies a"
        " LEFT JOIN gateway_agency_secrets s ON s.agency_id = a.id AND s.revoked_at IS NULL"
        " WHERE a.api_key_sha256 = $1 GROUP BY a.id",
        api_key_sha256(api_key),
    )
    if row is None:
        return None
    return AgencyCaller(row["id"], row["code"], row["active"],
                        _readable(box, list(row["secrets"]), row["code"]))


async def signing_secrets(conn: asyncpg.Connection, code: str, box: SecretBox) -> list[str]:
    """The active secrets of an agency, newest first (outbound webhooks sign with each)."""
    rows = await conn.fetch(
        "SELECT s.secret FROM gateway_agency_secrets s JOIN gateway_agencies a ON a.id = s.agency_id"
        " WHERE a.code = $1 AND s.revoked_at IS NULL ORDER BY s.created_at DESC",
        code,
    )
    return _readable(box, [r["secret"] for r in rows], code)


async def ensure_demo_agency(
    pool: asyncpg.Pool, *, code: str, name: str, api_key: str, secret: str,
    webhook_url: str | None, box: SecretBox,
) -> None:
    """Register (or re-key) the demo agency from settings, so the simulator can talk to us."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('gateway-demo-agency'))")
        existing = await get_agency(conn, code)
        if existing is None:
            await create_agency(
                conn, code=code, name=name, webhook_url=webhook_url, active=True,
                api_key=api_key, secret=secret, box=box,
            )
            return
        await conn.execute(
            "UPDATE gateway_agencies SET webhook_url = $2, active = true, api_key_sha256 = $3,"
            " updated_at = now() WHERE id = $1",
            existing["id"], webhook_url, api_key_sha256(api_key),
        )
        if secret not in await signing_secrets(conn, code, box):
            await add_secret(conn, existing["id"], secret, box)
