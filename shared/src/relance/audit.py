"""The audit trail (F-33): every change made by a person or an agency, recorded with who,
when, what and why, in the transaction of the change itself. Every service writes it, and
only through this module: one entry (`record_audit`), or one entry per row of a query
(`record_audit_rows`: a set-based import, a mass assignment)."""

from typing import Any
from uuid import UUID

import asyncpg

# The columns an entry fills, in this order (`at` is the database's clock).
AUDIT_COLUMNS = "client_id, actor, action, entity, entity_id, comment, details"


async def record_audit(
    conn: asyncpg.Connection,
    *,
    client_id: UUID | None,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    comment: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """F-33: who, when, what and why, in the transaction of the change itself."""
    await conn.execute(
        f"INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        client_id, actor, action, entity, entity_id, comment, details or {},
    )


async def record_audit_rows(conn: asyncpg.Connection, select_sql: str, *args: object) -> int:
    """One entry per row of `select_sql`, set-based: a query (with its `$n` arguments)
    whose columns are AUDIT_COLUMNS in that order, e.g. `SELECT n.client_id, $1, 'create',
    'client', n.code, 'ERP import', jsonb_build_object(...) FROM import_new_clients n`.
    Returns how many were written."""
    status: str = await conn.execute(f"INSERT INTO audit_log ({AUDIT_COLUMNS}) {select_sql}", *args)
    return int(status.split()[-1])
