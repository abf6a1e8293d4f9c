"""The audit trail (F-33): every change made by a person or an agency, recorded with who,
when, what and why, in the transaction of the change itself. Every service writes it, and
only through this module: one entry (`record_audit`), many entries computed in Python
(`record_audits`, a mass assignment), or one entry per row of a query (`record_audit_rows`,
a set-based import)."""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

# The columns an entry fills, in this order (`at` is the database's clock).
AUDIT_COLUMNS = "client_id, actor, action, entity, entity_id, comment, details"


@dataclass(frozen=True)
class AuditEntry:
    client_id: UUID | None
    actor: str
    action: str
    entity: str
    entity_id: str | None
    comment: str | None = None
    details: dict[str, Any] | None = None


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


async def record_audits(conn: asyncpg.Connection, entries: Iterable[AuditEntry]) -> int:
    """Many entries in one statement (a mass assignment can touch thousands of clients);
    returns how many were written."""
    rows = list(entries)
    if not rows:
        return 0
    await conn.execute(
        f"INSERT INTO audit_log ({AUDIT_COLUMNS})"
        " SELECT e.client_id, e.actor, e.action, e.entity, e.entity_id, e.comment, e.details::jsonb"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])"
        " AS e(client_id, actor, action, entity, entity_id, comment, details)",
        [r.client_id for r in rows],
        [r.actor for r in rows],
        [r.action for r in rows],
        [r.entity for r in rows],
        [r.entity_id for r in rows],
        [r.comment for r in rows],
        [json.dumps(r.details or {}) for r in rows],
    )
    return len(rows)


async def record_audit_rows(conn: asyncpg.Connection, select_sql: str, *args: object) -> int:
    """One entry per row of `select_sql`, set-based: a query (with its `$n` arguments)
    whose columns are AUDIT_COLUMNS in that order, e.g. `SELECT n.client_id, $1, 'create',
    'client', n.code, 'ERP import', jsonb_build_object(...) FROM import_new_clients n`.
    Returns how many were written."""
    status: str = await conn.execute(f"INSERT INTO audit_log ({AUDIT_COLUMNS}) {select_sql}", *args)
    return int(status.split()[-1])
