"""The audit trail per client (F-33), and the versioned client update (F-1) whose every
change it records."""

from typing import Any
from uuid import UUID

import asyncpg

from relance.events import ClientUpdated
from relance.outbox import write_events
from relance_dossier.persistence.clients import record_audit


async def audit_page(
    conn: asyncpg.Connection, client_id: UUID, *, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    """Newest first: (entries, total)."""
    rows = await conn.fetch(
        "SELECT id, actor, action, entity, entity_id, comment, details, at FROM audit_log"
        " WHERE client_id = $1 ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3",
        client_id, limit, offset,
    )
    total = await conn.fetchval("SELECT count(*) FROM audit_log WHERE client_id = $1", client_id)
    return rows, total


class StaleVersion(Exception):
    def __init__(self, current: int) -> None:
        super().__init__(current)
        self.current = current


async def update_client(
    conn: asyncpg.Connection, *, client_id: UUID, code: str, expected_version: int,
    changes: dict[str, Any], actor: str, comment: str | None,
) -> int:
    """F-1: apply `changes` if the client is still at `expected_version` (optimistic
    concurrency), bump the version, and record the change and its event in the same
    transaction. Returns the new version; raises StaleVersion."""
    async with conn.transaction():
        current = await conn.fetchrow("SELECT * FROM clients WHERE id = $1 FOR UPDATE", client_id)
        if current["version"] != expected_version:
            raise StaleVersion(current["version"])
        changed = {k: v for k, v in changes.items() if current[k] != v}
        if not changed:
            return current["version"]
        assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(changed, start=2))
        version = await conn.fetchval(
            f"UPDATE clients SET {assignments}, version = version + 1, updated_at = now()"
            " WHERE id = $1 RETURNING version",
            client_id, *changed.values(),
        )
        await write_events(conn, [
            ClientUpdated(client_id=client_id, code=code, changed=changed)
            .envelope(aggregate_id=client_id, client_id=client_id, actor=actor)
        ])
        await record_audit(
            conn, client_id=client_id, actor=actor, action="update", entity="client",
            entity_id=code, comment=comment,
            details={
                "version": version,
                "changed": {k: {"from": current[k], "to": v} for k, v in changed.items()},
            },
        )
    return version
