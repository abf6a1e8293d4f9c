"""The audit trail (F-33): every change made by a person or an agency, recorded with who,
when, what and why, in the transaction of the change itself. Every service writes it."""

from typing import Any
from uuid import UUID

import asyncpg


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
        "INSERT INTO audit_log (client_id, actor, action, entity, entity_id, comment, details)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        client_id, actor, action, entity, entity_id, comment, details or {},
    )
